"""The kind registry: names calicoctl accepts, models, table columns, parsing.

Source: calicoctl ``resourcemgr/*.go`` (``registerResource``: the accepted
names, ps and wide headings per kind) and ``calico.datastore.keys`` (plural
used in datastore keys, namespaced or not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from calico.datastore.keys import KIND_KEYS
from calico.errors import ValidationError
from calico.resources._columns import COLUMNS, Column
from calico.resources._errors import from_pydantic
from calico.resources._resource import API_VERSION, Resource, resource_label
from calico.resources.bgp import BGPConfiguration, BGPPeer
from calico.resources.clusterinfo import ClusterInformation
from calico.resources.endpoints import HostEndpoint, WorkloadEndpoint
from calico.resources.felixconfig import FelixConfiguration
from calico.resources.ipam import IPAMConfiguration, IPReservation
from calico.resources.ippool import IPPool
from calico.resources.networkset import GlobalNetworkSet, NetworkSet
from calico.resources.node import Node
from calico.resources.policy import GlobalNetworkPolicy, NetworkPolicy
from calico.resources.profile import Profile
from calico.resources.tier import Tier


@dataclass(frozen=True)
class KindInfo:
    """What calicoctl knows about a kind.

    ``ps_columns`` and ``wide_columns`` are calicoctl's default ``get``
    tables.  They never include NAMESPACE: for a namespaced kind listed
    across all namespaces (``-A``) calicoctl prepends it; use
    :meth:`table_columns` to get exactly that.  ``all_columns`` holds every
    heading usable with ``-o custom-columns=``.
    """

    kind: str
    plural: str
    namespaced: bool
    names: frozenset[str]
    model: type[Resource]
    ps_columns: tuple[Column, ...]
    wide_columns: tuple[Column, ...]
    all_columns: tuple[Column, ...]

    def column(self, header: str) -> Column:
        """The column with this heading (case-insensitive) for custom-columns."""
        for candidate in self.all_columns:
            if candidate.header == header.upper():
                return candidate
        known = ", ".join(c.header for c in self.all_columns)
        raise ValidationError(
            f"unknown column for {self.kind}; valid columns are: {known}",
            field="custom-columns",
            value=header,
        )

    def table_columns(
        self, *, wide: bool = False, all_namespaces: bool = False
    ) -> tuple[Column, ...]:
        """The default table, with NAMESPACE first when listing all namespaces."""
        columns = self.wide_columns if wide else self.ps_columns
        if all_namespaces and self.namespaced:
            return (self.column("NAMESPACE"), *columns)
        return columns


# kind model, extra names calicoctl accepts, ps headings, wide headings.
_KINDS: list[tuple[type[Resource], tuple[str, ...], str, str]] = [
    (
        NetworkPolicy,
        ("policy", "policies", "np", "pol", "pols"),
        "NAME TIER",
        "NAME TIER ORDER SELECTOR",
    ),
    (GlobalNetworkPolicy, ("gnp", "gnps"), "NAME TIER", "NAME TIER ORDER SELECTOR"),
    (Tier, (), "NAME ORDER", "NAME ORDER"),
    (Profile, ("pro", "pros"), "NAME", "NAME LABELS"),
    (
        WorkloadEndpoint,
        ("wep", "weps"),
        "WORKLOAD NODE NETWORKS INTERFACE",
        "NAME WORKLOAD NODE NETWORKS INTERFACE PROFILES NATS",
    ),
    (HostEndpoint, ("hep", "heps"), "NAME NODE", "NAME NODE INTERFACE IPS PROFILES"),
    (Node, ("no", "nos"), "NAME", "NAME ASN IPV4 IPV6"),
    (
        IPPool,
        ("ipp", "ipps", "pool", "pools"),
        "NAME CIDR SELECTOR",
        "NAME CIDR NAT IPIPMODE VXLANMODE DISABLED DISABLEBGPEXPORT SELECTOR ASSIGNMENTMODE",
    ),
    (IPReservation, ("reservation", "reservations"), "NAME", "NAME CIDRS"),
    (
        IPAMConfiguration,
        ("ipamconfig", "ipamconfigs"),
        "NAME STRICTAFFINITY AUTOALLOCATEBLOCKS",
        "NAME STRICTAFFINITY AUTOALLOCATEBLOCKS MAXBLOCKSPERHOST",
    ),
    (
        BGPConfiguration,
        ("bgpconfig", "bgpconfigs"),
        "NAME LOGSEVERITY MESHENABLED ASNUMBER",
        "NAME LOGSEVERITY MESHENABLED ASNUMBER",
    ),
    (BGPPeer, ("bgpp", "bgpps", "bp", "bps"), "NAME PEERIP NODE ASN", "NAME PEERIP NODE ASN"),
    (FelixConfiguration, ("felixconfig", "felixconfigs"), "NAME", "NAME"),
    (NetworkSet, ("netsets",), "NAME", "NAME NETS"),
    (GlobalNetworkSet, ("gnetsets",), "NAME", "NAME NETS"),
    (
        ClusterInformation,
        ("clusterinfo", "clusterinfos"),
        "NAME CLUSTERGUID CLUSTERTYPE CALICOVERSION DATASTOREREADY",
        "NAME CLUSTERGUID CLUSTERTYPE CALICOVERSION DATASTOREREADY",
    ),
]


def _build(model: type[Resource], aliases: tuple[str, ...], ps: str, wide: str) -> KindInfo:
    kind = model.kind_name()
    plural, namespaced = KIND_KEYS[kind]
    columns = {c.header: c for c in COLUMNS[model]}
    return KindInfo(
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        names=frozenset({kind.lower(), plural, *aliases}),
        model=model,
        ps_columns=tuple(columns[h] for h in ps.split()),
        wide_columns=tuple(columns[h] for h in wide.split()),
        all_columns=tuple(columns.values()),
    )


_INFOS = [_build(*entry) for entry in _KINDS]
_BY_KIND = {info.kind: info for info in _INFOS}
_BY_NAME = {name: info for info in _INFOS for name in info.names}


def all_kinds() -> list[KindInfo]:
    """Every kind, policy kinds first (a stable order for listings)."""
    return list(_INFOS)


def kind_info(name: str) -> KindInfo:
    """The kind for any spelling calicoctl accepts (case-insensitive)."""
    info = _BY_NAME.get(name.lower())
    if info is None:
        raise ValidationError(
            "unknown resource type; valid types are: " + ", ".join(i.kind for i in _INFOS),
            field="kind",
            value=name,
        )
    return info


def parse_resource(data: Mapping[str, Any]) -> Resource:
    """Validate a raw resource dict and return its model, with defaults applied.

    ``kind`` must be one of ours and ``apiVersion`` ``projectcalico.org/v3``.
    A ``null`` value means "unset", as in Go.  Raises
    :class:`calico.errors.ValidationError` naming the resource, field path and
    value.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(f"a resource must be a mapping, not {type(data).__name__}")
    label = _raw_label(data)
    kind = data.get("kind")
    if not kind:
        raise ValidationError("is required", field="kind", resource=label)
    info = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if info is None:
        raise ValidationError("unknown resource kind", field="kind", value=kind, resource=label)
    if data.get("apiVersion") != API_VERSION:
        raise ValidationError(
            f"must be {API_VERSION!r}",
            field="apiVersion",
            value=data.get("apiVersion"),
            resource=label,
        )
    try:
        return info.model.model_validate(_without_nulls(data), by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, resource=label) from None


def _without_nulls(value: Any) -> Any:
    """Drop ``key: null`` entries, which Go decodes as the zero value (unset)."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _raw_label(data: Mapping[str, Any]) -> str:
    """``Kind(ns/name)`` from unvalidated data, for error messages."""
    kind = data.get("kind")
    metadata = data.get("metadata")
    name = namespace = ""
    if isinstance(metadata, Mapping):
        name, namespace = str(metadata.get("name") or ""), str(metadata.get("namespace") or "")
    return resource_label(str(kind or "resource"), name, namespace)
