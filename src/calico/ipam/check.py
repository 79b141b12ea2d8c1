"""``calicoctl ipam check``: cross-check IPAM against what actually uses addresses
(calicoctl ``commands/ipam/check.go``).

Users of addresses are WorkloadEndpoints (``spec.ipNetworks``) and nodes
(their IPIP/VXLAN/WireGuard tunnel addresses).  Problems found:

* leaked IPs: allocated in a block, used by nobody (cooldown excepted);
* in-use IPs outside every active pool, or inside one without an allocation;
* handles that no allocation references, and allocations whose handle is missing;
* blocks affine to a node that does not exist (beyond calicoctl: such a block
  is still advertised by nobody and can only be recovered by hand);
* blocks that fail structural validation.

:func:`check_ipam` gathers a :class:`CheckReport`; ``report.render_check``
prints it, and :meth:`CheckReport.to_json` writes calicoctl's machine-readable
report (``-o report.json``) that ``ipam release --from-report`` consumes.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from calico.datastore import Datastore
from calico.datastore.keys import kind_prefix, resource_key
from calico.ipam import store
from calico.ipam._types import IPNetwork, ip_order
from calico.ipam.block import WINDOWS_RESERVED_HANDLE, AllocationAttribute, AllocationBlock
from calico.ipam.keys import AFFINITY_TYPE_HOST
from calico.ipam.pools import list_nodes, list_pools, node_tunnel_addresses

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class Allocation:
    """One allocated address, cross-referenced with its users."""

    ip: str
    block: str
    handle: str | None
    sequence_number: int
    attrs: str  # "Main:<handle> Extra:k=v,..." as calicoctl prints it
    node: str = ""
    pod: str = ""
    namespace: str = ""
    type: str = ""
    creation_timestamp: str = ""
    borrowed: bool = False
    cooling_down: bool = False
    owners: list[str] = field(default_factory=list)

    @property
    def in_use(self) -> bool:
        return bool(self.owners)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ip": self.ip}
        if self.handle:
            out["handle"] = self.handle
        out["sequenceNumber"] = self.sequence_number
        optional = {
            "pod": self.pod,
            "namespace": self.namespace,
            "node": self.node,
            "type": self.type,
            "creationTimestamp": self.creation_timestamp,
        }
        out |= {name: value for name, value in optional.items() if value}
        out["inUse"] = self.in_use
        if self.borrowed:
            out["borrowed"] = True
        if self.cooling_down:
            out["coolingDown"] = True
        out["owners"] = self.owners or None
        return out


@dataclass(slots=True)
class CheckReport:
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (cidr, affinity or <none>)
    allocations: dict[str, list[Allocation]] = field(default_factory=dict)
    active_pools: list[str] = field(default_factory=list)
    num_node_ips: int = 0
    num_workload_ips: int = 0
    in_use: dict[str, list[str]] = field(default_factory=dict)  # ip -> owners
    handle_revisions: dict[str, int] = field(default_factory=dict)
    leaked_ips: list[str] = field(default_factory=list)
    non_calico_ips: list[str] = field(default_factory=list)
    in_use_unallocated_ips: list[str] = field(default_factory=list)
    leaked_handles: list[str] = field(default_factory=list)
    missing_handles: list[str] = field(default_factory=list)
    orphaned_blocks: list[str] = field(default_factory=list)
    invalid_blocks: dict[str, list[str]] = field(default_factory=dict)
    cluster_guid: str = ""
    cluster_type: str = ""
    cluster_info_revision: str = ""
    datastore_locked: bool = False

    @property
    def num_allocations(self) -> int:
        return sum(len(a) for a in self.allocations.values())

    @property
    def problems(self) -> int:
        return (
            len(self.leaked_ips)
            + len(self.non_calico_ips)
            + len(self.in_use_unallocated_ips)
            + len(self.leaked_handles)
            + len(self.missing_handles)
            + len(self.orphaned_blocks)
            + len(self.invalid_blocks)
        )

    def allocations_by_node(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for allocs in self.allocations.values():
            for alloc in allocs:
                counts[alloc.node] = counts.get(alloc.node, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def to_json(self, version: str) -> str:
        """calicoctl's ``CheckReport`` JSON."""
        leaked = [
            {"ID": h, "UID": None, "Revision": str(self.handle_revisions.get(h, ""))}
            for h in self.leaked_handles
        ]
        report: dict[str, Any] = {
            "version": version,
            "clusterGUID": self.cluster_guid,
            "datastoreLocked": self.datastore_locked,
            "clusterInformationRevision": self.cluster_info_revision,
            "clusterType": self.cluster_type,
            "allocations": {
                ip: [a.to_json() for a in allocs] for ip, allocs in self.allocations.items()
            },
        }
        if leaked:
            report["leakedHandles"] = leaked
        return json.dumps(report, indent=2)


def check_ipam(ds: Datastore) -> CheckReport:
    report = CheckReport()
    _read_cluster_information(ds, report)
    blocks = [kv.block for kv in store.list_blocks(ds)]
    for block in blocks:
        report.blocks.append((str(block.cidr), block.affinity or "<none>"))
        _record_block(report, block)
    active = [p.cidr for p in list_pools(ds) if not p.disabled]
    report.active_pools = [str(c) for c in active]
    nodes = list_nodes(ds)
    for name, node in nodes.items():
        for address in node_tunnel_addresses(node):
            _record_in_use(report, address, f"Node({name})")
            report.num_node_ips += 1
    report.num_workload_ips = _record_workloads(ds, report)
    report.handle_revisions = {h.handle_id: h.revision or 0 for h in store.list_handles(ds)}
    _find_problems(report, blocks, active, set(nodes))
    return report


def _read_cluster_information(ds: Datastore, report: CheckReport) -> None:
    kv = ds.get(resource_key("ClusterInformation", "default"))
    if kv is None:
        return
    spec = json.loads(kv.value).get("spec") or {}
    report.cluster_guid = spec.get("clusterGUID", "")
    report.cluster_type = spec.get("clusterType", "")
    report.cluster_info_revision = str(kv.mod_revision)
    report.datastore_locked = spec.get("datastoreReady", True) is False


def _record_block(report: CheckReport, block: AllocationBlock) -> None:
    owner = block.host if (block.affinity or "").startswith(f"{AFFINITY_TYPE_HOST}:") else None
    for ordinal, index in enumerate(block.allocations):
        if index is None:
            continue
        attr = block.attributes[index] if 0 <= index < len(block.attributes) else None
        ip = str(block.ip_at(ordinal))
        alloc = Allocation(
            ip=ip,
            block=str(block.cidr),
            handle=attr.handle_id if attr else None,
            sequence_number=block.sequence_number_of(ordinal),
            attrs=_format_attrs(attr) if attr else "<missing>",
            node=owner or "",
        )
        if attr is not None:
            _fill_owner(alloc, attr)
        alloc.borrowed = alloc.node != (owner or "")
        report.allocations.setdefault(ip, []).append(alloc)
        if alloc.handle == WINDOWS_RESERVED_HANDLE:
            _record_in_use(report, ip, "Reserved for Windows")


def _fill_owner(alloc: Allocation, attr: AllocationAttribute) -> None:
    extra = attr.active_owner_attrs or {}
    alloc.node = extra.get("node") or alloc.node
    alloc.pod = extra.get("pod", "")
    alloc.namespace = extra.get("namespace", "")
    alloc.type = extra.get("type", "")
    alloc.creation_timestamp = extra.get("timestamp", "")
    alloc.cooling_down = attr.released_at is not None


def _format_attrs(attr: AllocationAttribute) -> str:
    def kvs(attrs: dict[str, str] | None) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted((attrs or {}).items()))

    text = f"Main:{attr.handle_id or '<none>'} Extra:{kvs(attr.active_owner_attrs)}"
    if attr.alternate_owner_attrs:
        text += f" Alternate:{kvs(attr.alternate_owner_attrs)}"
    return text


def _record_workloads(ds: Datastore, report: CheckReport) -> int:
    items, _ = ds.list(kind_prefix("WorkloadEndpoint"))
    count = 0
    for kv in items:
        wep = json.loads(kv.value)
        meta = wep.get("metadata") or {}
        owner = f"Workload({meta.get('namespace', '')}/{meta.get('name', '')})"
        for network in (wep.get("spec") or {}).get("ipNetworks") or []:
            _record_in_use(report, network, owner)
            count += 1
    return count


def _record_in_use(report: CheckReport, address: str, owner: str) -> None:
    try:
        ip = str(ipaddress.ip_interface(address).ip)
    except ValueError:
        _log.warning("Ignoring malformed address %r of %s", address, owner)
        return
    report.in_use.setdefault(ip, []).append(owner)
    for alloc in report.allocations.get(ip, []):
        alloc.owners.append(owner)


def _find_problems(
    report: CheckReport, blocks: list[AllocationBlock], active: list[IPNetwork], nodes: set[str]
) -> None:
    used_handles: set[str] = set()
    for ip, allocs in report.allocations.items():
        used_handles.update(a.handle for a in allocs if a.handle)
        if ip not in report.in_use and not any(a.cooling_down for a in allocs):
            report.leaked_ips.append(ip)
    for ip in report.in_use:
        if ip in report.allocations:
            continue
        address = ipaddress.ip_address(ip)
        if any(address.version == c.version and address in c for c in active):
            report.in_use_unallocated_ips.append(ip)
        else:
            report.non_calico_ips.append(ip)
    report.leaked_handles = sorted(h for h in report.handle_revisions if h not in used_handles)
    report.missing_handles = sorted(h for h in used_handles if h not in report.handle_revisions)
    for found in (report.leaked_ips, report.in_use_unallocated_ips, report.non_calico_ips):
        found.sort(key=ip_order)
    for block in blocks:
        if (block.affinity or "").startswith(f"{AFFINITY_TYPE_HOST}:") and block.host not in nodes:
            report.orphaned_blocks.append(str(block.cidr))
        if problems := validate_block(block):
            report.invalid_blocks[str(block.cidr)] = problems


def validate_block(block: AllocationBlock) -> list[str]:
    """Structural inconsistencies of a block (calicoctl check.go ``validateBlock``)."""
    size = block.num_addresses
    if len(block.allocations) != size:
        return [f"allocations has {len(block.allocations)} entries, expected {size}"]
    allocated = {o for o, i in enumerate(block.allocations) if i is not None}
    used = {i for i in block.allocations if i is not None}
    found = [
        f"an allocation indexes nonexistent attribute {index}"
        for index in sorted(used)
        if not 0 <= index < len(block.attributes)
    ]
    found += [
        f"attribute index {index} exists but is not indexed by an allocation"
        for index in range(len(block.attributes))
        if index not in used
    ]
    seen: set[int] = set()
    for o in block.unallocated:
        if not 0 <= o < size:
            found.append(f"ordinal {o} appears in unallocated but is out of the block")
        elif o in seen:
            found.append(f"ordinal {o} appears more than once in unallocated")
        elif o in allocated:
            found.append(f"ordinal {o} is allocated but appears in unallocated")
        seen.add(o)
    if len(block.unallocated) + len(allocated) != size:
        found.append(
            f"expected {size} addresses in this block, but unallocated "
            f"({len(block.unallocated)}) + allocated ({len(allocated)}) = "
            f"{len(block.unallocated) + len(allocated)}"
        )
    return found
