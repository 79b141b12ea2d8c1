"""Builders for stored v3 resources, as (key, JSON dict) pairs, for felix tests.

Values look like what calicoctl / the CNI plugin store: full v3 objects with
``apiVersion``, ``kind``, ``metadata`` and ``spec``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from calico.datastore.keys import resource_key

KV = tuple[str, dict[str, Any]]
API = "projectcalico.org/v3"


def _obj(kind: str, name: str, spec: Mapping[str, Any], namespace: str = "", **meta: Any) -> KV:
    metadata: dict[str, Any] = {"name": name, **meta}
    if namespace:
        metadata["namespace"] = namespace
    value = {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": dict(spec)}
    return resource_key(kind, name, namespace), value


def rule(action: str = "Allow", **fields: Any) -> dict[str, Any]:
    return {"action": action, **fields}


def gnp(
    name: str,
    selector: str = "",
    *,
    ingress: Sequence[Mapping[str, Any]] = (),
    egress: Sequence[Mapping[str, Any]] = (),
    order: float | None = None,
    tier: str = "default",
    types: Sequence[str] | None = None,
    **spec: Any,
) -> KV:
    body: dict[str, Any] = {
        "tier": tier,
        "selector": selector,
        "ingress": list(ingress),
        "egress": list(egress),
    }
    if order is not None:
        body["order"] = order
    if types is not None:
        body["types"] = list(types)
    return _obj("GlobalNetworkPolicy", name, {**body, **spec})


def np(
    namespace: str,
    name: str,
    selector: str = "",
    *,
    ingress: Sequence[Mapping[str, Any]] = (),
    egress: Sequence[Mapping[str, Any]] = (),
    order: float | None = None,
    tier: str = "default",
    types: Sequence[str] | None = None,
    **spec: Any,
) -> KV:
    body: dict[str, Any] = {
        "tier": tier,
        "selector": selector,
        "ingress": list(ingress),
        "egress": list(egress),
    }
    if order is not None:
        body["order"] = order
    if types is not None:
        body["types"] = list(types)
    return _obj("NetworkPolicy", name, {**body, **spec}, namespace)


def tier(name: str, order: float | None, default_action: str = "Deny") -> KV:
    spec: dict[str, Any] = {"defaultAction": default_action}
    if order is not None:
        spec["order"] = order
    return _obj("Tier", name, spec)


def profile(
    name: str,
    labels: Mapping[str, str] | None = None,
    *,
    ingress: Sequence[Mapping[str, Any]] = (),
    egress: Sequence[Mapping[str, Any]] = (),
) -> KV:
    spec: dict[str, Any] = {"ingress": list(ingress), "egress": list(egress)}
    if labels is not None:
        spec["labelsToApply"] = dict(labels)
    return _obj("Profile", name, spec)


def wep_name(node: str, pod: str, endpoint: str = "eth0") -> str:
    def esc(part: str) -> str:
        return part.replace("-", "--")

    return f"{esc(node)}-k8s-{esc(pod)}-{esc(endpoint)}"


def wep(
    namespace: str,
    node: str,
    pod: str,
    ips: Sequence[str],
    labels: Mapping[str, str] | None = None,
    *,
    profiles: Sequence[str] | None = None,
    ports: Sequence[tuple[str, str, int]] = (),
    iface: str | None = None,
) -> KV:
    spec = {
        "orchestrator": "k8s",
        "node": node,
        "pod": pod,
        "endpoint": "eth0",
        "interfaceName": iface
        or "cali" + hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11],
        "ipNetworks": list(ips),
        "profiles": list(profiles if profiles is not None else [f"kns.{namespace}"]),
        "ports": [{"name": n, "protocol": p, "port": port} for n, p, port in ports],
    }
    return _obj("WorkloadEndpoint", wep_name(node, pod), spec, namespace, labels=dict(labels or {}))


def hep(
    name: str,
    node: str,
    ips: Sequence[str],
    labels: Mapping[str, str] | None = None,
    *,
    iface: str = "eth0",
    profiles: Sequence[str] = (),
) -> KV:
    spec = {
        "node": node,
        "interfaceName": iface,
        "expectedIPs": list(ips),
        "profiles": list(profiles),
    }
    return _obj("HostEndpoint", name, spec, labels=dict(labels or {}))


def netset(
    namespace: str, name: str, nets: Sequence[str], labels: Mapping[str, str] | None = None
) -> KV:
    return _obj("NetworkSet", name, {"nets": list(nets)}, namespace, labels=dict(labels or {}))


def gnetset(name: str, nets: Sequence[str], labels: Mapping[str, str] | None = None) -> KV:
    return _obj("GlobalNetworkSet", name, {"nets": list(nets)}, labels=dict(labels or {}))


def pool(
    name: str, cidr: str, *, ipip: str = "Never", vxlan: str = "Never", nat: bool = False
) -> KV:
    spec = {"cidr": cidr, "ipipMode": ipip, "vxlanMode": vxlan, "natOutgoing": nat, "blockSize": 26}
    return _obj("IPPool", name, spec)


def node(
    name: str, ipv4: str | None, *, vxlan_addr: str | None = None, mac: str | None = None
) -> KV:
    spec: dict[str, Any] = {"bgp": {"ipv4Address": ipv4} if ipv4 else {}}
    if vxlan_addr:
        spec["ipv4VXLANTunnelAddr"] = vxlan_addr
    if mac:
        spec["vxlanTunnelMACAddr"] = mac
    return _obj("Node", name, spec)


def felix_config(name: str, **spec: Any) -> KV:
    return _obj("FelixConfiguration", name, spec)


def block(cidr: str, host: str | None, allocated: Mapping[int, str] | None = None) -> KV:
    """An IPAM block; ``allocated`` maps ordinals to the node they went to."""
    size = 2 ** (32 - int(cidr.split("/")[1])) if ":" not in cidr else 64
    allocations: list[int | None] = [None] * size
    attributes: list[dict[str, Any]] = []
    for ordinal, owner in sorted((allocated or {}).items()):
        allocations[ordinal] = len(attributes)
        attributes.append({"handle_id": f"h-{ordinal}", "secondary": {"node": owner}})
    value = {
        "cidr": cidr,
        "affinity": f"host:{host}" if host else None,
        "allocations": allocations,
        "unallocated": [i for i, a in enumerate(allocations) if a is None],
        "attributes": attributes,
        "deleted": False,
    }
    key = f"/calico/ipam/v2/assignment/ipv4/block/{cidr.replace('/', '-')}"
    return key, value
