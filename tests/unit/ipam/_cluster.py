"""Write the v3 resources IPAM reads (pools, nodes, reservations, endpoints) as
the JSON a real writer stores, so that tests exercise the real read path."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from calico.datastore import Datastore
from calico.datastore.keys import resource_key
from calico.ipam import AllocationBlock
from calico.ipam import keys as ipam_keys


def _put(
    ds: Datastore,
    kind: str,
    name: str,
    doc: dict[str, Any],
    namespace: str = "",
    labels: dict[str, str] | None = None,
) -> None:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    body = {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, **doc}
    ds.put(resource_key(kind, name, namespace), json.dumps(body))


def add_pool(
    ds: Datastore,
    name: str,
    cidr: str,
    block_size: int | None = None,
    *,
    disabled: bool = False,
    node_selector: str = "all()",
    allowed_uses: tuple[str, ...] = ("Workload", "Tunnel"),
    assignment_mode: str = "Automatic",
) -> None:
    spec = {
        "cidr": cidr,
        "blockSize": block_size or (26 if ":" not in cidr else 122),
        "ipipMode": "Never",
        "vxlanMode": "Never",
        "natOutgoing": False,
        "disabled": disabled,
        "nodeSelector": node_selector,
        "allowedUses": list(allowed_uses),
        "assignmentMode": assignment_mode,
    }
    _put(ds, "IPPool", name, {"spec": spec})


def add_node(ds: Datastore, name: str, labels: dict[str, str] | None = None, **spec: Any) -> None:
    _put(ds, "Node", name, {"spec": spec}, labels=labels or {})


def add_reservation(ds: Datastore, name: str, *cidrs: str) -> None:
    _put(ds, "IPReservation", name, {"spec": {"reservedCIDRs": list(cidrs)}})


def add_workload(
    ds: Datastore, name: str, node: str, *ips: str, namespace: str = "default"
) -> None:
    spec = {"node": node, "interfaceName": f"cali{name[:11]}", "ipNetworks": list(ips)}
    _put(ds, "WorkloadEndpoint", name, {"spec": spec}, namespace)


def remove_workload(ds: Datastore, name: str, namespace: str = "default") -> None:
    ds.delete(resource_key("WorkloadEndpoint", name, namespace))


# -- inspecting what IPAM stored ----------------------------------------------


def stored_block(ds: Datastore, cidr: str) -> AllocationBlock | None:
    kv = ds.get(ipam_keys.block_key(ipaddress.ip_network(cidr)))
    return None if kv is None else AllocationBlock.from_json(kv.value)


def block_cidrs(ds: Datastore) -> list[str]:
    items, _ = ds.list(ipam_keys.ASSIGNMENT_PREFIX)
    return sorted(str(ipam_keys.parse_block_key(kv.key)) for kv in items)


def affinities(ds: Datastore, host: str) -> dict[str, str]:
    """block CIDR -> affinity state, for ``host``."""
    found: dict[str, str] = {}
    for version in (4, 6):
        items, _ = ds.list(ipam_keys.host_affinity_prefix(host, version))
        for kv in items:
            key = ipam_keys.parse_affinity_key(kv.key)
            assert key is not None
            found[str(key.cidr)] = json.loads(kv.value)["state"]
    return found


def handle_counts(ds: Datastore, handle: str) -> dict[str, int] | None:
    kv = ds.get(ipam_keys.handle_key(handle))
    return None if kv is None else dict(json.loads(kv.value)["block"])


def block_of(address: str, block_size: int) -> str:
    return str(ipaddress.ip_network(f"{address.split('/')[0]}/{block_size}", strict=False))
