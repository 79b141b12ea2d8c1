"""``calicoctl get`` table columns: heading -> value, rendered like Go does.

Source: calicoctl ``resourcemgr/*.go`` (the Go templates per heading) and
``commands/common/printer.go`` (``join``, ``joinAndTruncate``).  Values are
printed as Go's text/template prints them: ``true``/``false``, ``<nil>`` for
an unset pointer, floats with ``%v`` (so an order of 1000000 is ``1e+06``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from calico.resources._resource import Resource
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

R = TypeVar("R", bound=Resource)

# BGP AS number used when neither the node nor the global BGPConfiguration
# sets one (calicoctl printer.go ``config "asnumber"``).
DEFAULT_AS_NUMBER = 64512


@dataclass(frozen=True)
class Column:
    """One table column: its heading and how to render a resource's cell."""

    header: str
    getter: Callable[[Resource], str]


def go_value(value: object) -> str:
    """``fmt.Print`` of a value as a calicoctl table cell."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent from 1e+06."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_tuple))
    point = len(digits) + exponent  # position of the decimal point
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{point - 1:+03d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def join(items: Iterable[object], separator: str = ",", max_len: int = 0) -> str:
    """calicoctl's ``join`` / ``joinAndTruncate`` (``...`` past max_len)."""
    text = ""
    for index, item in enumerate(items):
        text += (separator if index else "") + go_value(item)
        if max_len and len(text) > max_len:
            return text[: max_len - 3] + "..."
    return text


def column(header: str, model: type[R], getter: Callable[[R], object]) -> Column:
    """A Column for ``model`` whose cell is ``go_value(getter(resource))``."""

    def cell(resource: Resource) -> str:
        if not isinstance(resource, model):
            raise TypeError(f"column {header} is for {model.__name__}, not {resource.kind}")
        return go_value(getter(resource))

    return Column(header, cell)


def node_asn(node: Node, global_as_number: int | None = None) -> str:
    """The ASN cell: the node's own AS, else the global one in parentheses."""
    if node.spec.bgp is None:
        return ""
    if node.spec.bgp.as_number is not None:
        return str(node.spec.bgp.as_number)
    return f"({global_as_number if global_as_number is not None else DEFAULT_AS_NUMBER})"


def _bgp_peer_node(peer: BGPPeer) -> str:
    return peer.spec.node or peer.spec.node_selector or "(global)"


def _nats(endpoint: WorkloadEndpoint) -> str:
    # Go prints each IPNAT struct with %v: "{internal external}".
    return join(f"{{{nat.internal_ip} {nat.external_ip}}}" for nat in endpoint.spec.ip_nats)


def _labels_to_apply(profile: Profile) -> str:
    # calicoctl's join of a map: sorted "key=value" pairs.
    return join(sorted(f"{k}={v}" for k, v in profile.spec.labels_to_apply.items()))


def _name(model: type[R]) -> Column:
    return column("NAME", model, lambda r: r.name)


def _namespace(model: type[R]) -> Column:
    return column("NAMESPACE", model, lambda r: r.namespace)


def _policy_columns(model: type[NetworkPolicy] | type[GlobalNetworkPolicy]) -> list[Column]:
    return [
        _name(model),
        column("ORDER", model, lambda p: p.spec.order),
        column("SELECTOR", model, lambda p: p.spec.selector),
        column("TIER", model, lambda p: p.spec.tier),
    ]


# Every heading calicoctl knows per kind (custom-columns may use any of them).
COLUMNS: dict[type[Resource], list[Column]] = {
    IPPool: [
        _name(IPPool),
        column("CIDR", IPPool, lambda p: p.spec.cidr),
        column("NAT", IPPool, lambda p: p.spec.nat_outgoing),
        column("IPIPMODE", IPPool, lambda p: p.spec.ipip_mode or "Never"),
        column("VXLANMODE", IPPool, lambda p: p.spec.vxlan_mode or "Never"),
        column("DISABLED", IPPool, lambda p: p.spec.disabled),
        column("DISABLEBGPEXPORT", IPPool, lambda p: p.spec.disable_bgp_export),
        column("SELECTOR", IPPool, lambda p: p.spec.node_selector),
        column("ASSIGNMENTMODE", IPPool, lambda p: p.spec.assignment_mode),
    ],
    NetworkPolicy: [*_policy_columns(NetworkPolicy), _namespace(NetworkPolicy)],
    GlobalNetworkPolicy: _policy_columns(GlobalNetworkPolicy),
    WorkloadEndpoint: [
        _name(WorkloadEndpoint),
        _namespace(WorkloadEndpoint),
        column("NODE", WorkloadEndpoint, lambda w: w.spec.node),
        column("ORCHESTRATOR", WorkloadEndpoint, lambda w: w.spec.orchestrator),
        column("WORKLOAD", WorkloadEndpoint, lambda w: w.spec.workload or w.spec.pod),
        column("NETWORKS", WorkloadEndpoint, lambda w: join(w.spec.ip_networks)),
        column("NATS", WorkloadEndpoint, _nats),
        column("PROFILES", WorkloadEndpoint, lambda w: join(w.spec.profiles)),
        column("INTERFACE", WorkloadEndpoint, lambda w: w.spec.interface_name),
    ],
    HostEndpoint: [
        _name(HostEndpoint),
        column("NODE", HostEndpoint, lambda h: h.spec.node),
        column("INTERFACE", HostEndpoint, lambda h: h.spec.interface_name),
        column("IPS", HostEndpoint, lambda h: join(h.spec.expected_ips)),
        column("PROFILES", HostEndpoint, lambda h: join(h.spec.profiles)),
    ],
    Node: [
        _name(Node),
        column("ASN", Node, node_asn),
        column("IPV4", Node, lambda n: n.spec.bgp.ipv4_address if n.spec.bgp else ""),
        column("IPV6", Node, lambda n: n.spec.bgp.ipv6_address if n.spec.bgp else ""),
    ],
    BGPPeer: [
        _name(BGPPeer),
        column("PEERIP", BGPPeer, lambda p: p.spec.peer_ip),
        column("NODE", BGPPeer, _bgp_peer_node),
        column("ASN", BGPPeer, lambda p: p.spec.as_number),
    ],
    BGPConfiguration: [
        _name(BGPConfiguration),
        column("LOGSEVERITY", BGPConfiguration, lambda c: c.spec.log_severity_screen),
        column(
            "MESHENABLED", BGPConfiguration, lambda c: _or_dash(c.spec.node_to_node_mesh_enabled)
        ),
        column("ASNUMBER", BGPConfiguration, lambda c: _or_dash(c.spec.as_number)),
    ],
    Profile: [
        _name(Profile),
        column("LABELS", Profile, _labels_to_apply),
    ],
    Tier: [_name(Tier), column("ORDER", Tier, lambda t: t.spec.order)],
    IPAMConfiguration: [
        _name(IPAMConfiguration),
        column("STRICTAFFINITY", IPAMConfiguration, lambda c: c.spec.strict_affinity),
        column("AUTOALLOCATEBLOCKS", IPAMConfiguration, lambda c: c.spec.auto_allocate_blocks),
        column("MAXBLOCKSPERHOST", IPAMConfiguration, lambda c: c.spec.max_blocks_per_host),
    ],
    NetworkSet: [
        _name(NetworkSet),
        _namespace(NetworkSet),
        column("NETS", NetworkSet, lambda s: join(s.spec.nets, max_len=80)),
    ],
    GlobalNetworkSet: [
        _name(GlobalNetworkSet),
        column("NETS", GlobalNetworkSet, lambda s: join(s.spec.nets, max_len=80)),
    ],
    IPReservation: [
        _name(IPReservation),
        column("CIDRS", IPReservation, lambda r: join(r.spec.reserved_cidrs, max_len=80)),
    ],
    FelixConfiguration: [_name(FelixConfiguration)],
    ClusterInformation: [
        _name(ClusterInformation),
        column("CLUSTERGUID", ClusterInformation, lambda c: c.spec.cluster_guid),
        column("CLUSTERTYPE", ClusterInformation, lambda c: c.spec.cluster_type),
        column("CALICOVERSION", ClusterInformation, lambda c: c.spec.calico_version),
        column("DATASTOREREADY", ClusterInformation, lambda c: c.spec.datastore_ready),
    ],
}


def _or_dash(value: object) -> object:
    # Go template ``{{if .X}}{{.X}}{{else}}-{{end}}`` on a pointer field.
    return "-" if value is None else value
