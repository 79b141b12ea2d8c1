"""What every converter in ``calico.felix.convert`` shares: identities and JSON accessors.

An object's identity comes from its datastore key alone, never from its
value, so that a deletion (which has no value) names exactly what the
previous update created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from calico.datastore.keys import ResourceKey
from calico.felix.calc.model import NetworkSetID, WorkloadEndpointKey
from calico.felix.messages import HostEndpointID, PolicyID

_KNP_PREFIX = "knp.default."

Spec: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True, slots=True, order=True)
class NamedID:
    """Identity of a cluster-scoped object known by name: Tier, Profile,
    IPPool, Node, FelixConfiguration, or an IPAM block (its CIDR key)."""

    kind: str
    name: str


ResourceID: TypeAlias = PolicyID | WorkloadEndpointKey | HostEndpointID | NetworkSetID | NamedID


def resource_id(rkey: ResourceKey) -> ResourceID:
    kind, name, namespace = rkey.kind, rkey.name, rkey.namespace
    if kind == "NetworkPolicy":
        return PolicyID(name, namespace, "knp" if name.startswith(_KNP_PREFIX) else "np")
    if kind == "GlobalNetworkPolicy":
        return PolicyID(name, "", "gnp")
    if kind == "WorkloadEndpoint":
        return workload_endpoint_key(namespace, name)
    if kind == "HostEndpoint":
        return HostEndpointID(name)
    if kind in ("NetworkSet", "GlobalNetworkSet"):
        return NetworkSetID(f"{namespace}/{name}" if namespace else name)
    return NamedID(kind, name)


def workload_endpoint_key(namespace: str, name: str) -> WorkloadEndpointKey:
    """From the WEP name ``<node>-<orch>-<workload>-<endpoint>`` (dashes inside a
    segment doubled), as Calico's ``ConvertWorkloadEndpointV3KeyToV1Key``."""
    parts = [part.replace("--", "-") for part in re.split(r"(?<!-)-(?!-)", name)]
    if len(parts) == 4:
        return WorkloadEndpointKey(parts[0], parts[1], f"{namespace}/{parts[2]}", parts[3])
    return WorkloadEndpointKey("", "", f"{namespace}/{name}", "")  # not Calico-named


def spec_of(obj: Spec) -> Spec:
    return obj.get("spec") or {}


def labels_of(obj: Spec) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})
