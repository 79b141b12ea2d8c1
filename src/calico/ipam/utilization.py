"""How full the pools and blocks are, and who borrows from whom
(the data behind ``calicoctl ipam show``; libcalico-go ``GetUtilization``).

Counts follow Calico: *in use* is every allocated address (including ones in
cooldown), *reserved* every address an IPReservation covers (allocated or
not), *free* what can still be handed out.  An address allocated before it was
reserved is both in use and reserved, so the three need not add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from calico.datastore import Datastore
from calico.ipam import store
from calico.ipam._types import IPNetwork, ip_order
from calico.ipam.pools import list_pools, read_ipam_config, read_reservations
from calico.ipam.reserved import count_pool_space

ORPHANED = "orphaned allocation blocks"


@dataclass(frozen=True, slots=True)
class BlockUtilization:
    cidr: IPNetwork
    capacity: int
    in_use: int
    reserved: int
    available: int


@dataclass(slots=True)
class PoolUtilization:
    """One pool, or (``orphaned``) the blocks that no pool contains any more."""

    name: str
    cidr: IPNetwork | None  # None for the orphaned-blocks group
    capacity: int = 0
    in_use: int = 0
    reserved: int = 0
    available: int = 0
    blocks: list[BlockUtilization] = field(default_factory=list)

    @property
    def orphaned(self) -> bool:
        return self.cidr is None


def get_utilization(ds: Datastore, pools: Sequence[str] = ()) -> list[PoolUtilization]:
    """Utilisation of the named pools (by name or CIDR), or of all pools plus a
    final group of orphaned blocks."""
    wanted = set(pools)
    usage = [
        PoolUtilization(p.name, p.cidr)
        for p in list_pools(ds)
        if not wanted or p.name in wanted or str(p.cidr) in wanted
    ]
    if not wanted:
        usage.append(PoolUtilization(ORPHANED, None))
    reservations = read_reservations(ds)
    cooldown = read_ipam_config(ds).ip_cooldown_seconds
    for kv in store.list_blocks(ds, cooldown_seconds=cooldown):
        block = kv.block
        owner = next((u for u in usage if u.cidr is None or _overlaps(u.cidr, block.cidr)), None)
        if owner is not None:
            owner.blocks.append(
                BlockUtilization(
                    cidr=block.cidr,
                    capacity=block.num_addresses,
                    in_use=block.num_addresses - len(block.unallocated),
                    reserved=block.num_reserved(reservations),
                    available=block.num_free(reservations),
                )
            )
    for pool_use in usage:
        if pool_use.cidr is None:
            continue  # totals over "everything else" would mean nothing
        pool_use.in_use = sum(b.in_use for b in pool_use.blocks)
        capacity, reserved, outside = count_pool_space(
            pool_use.cidr, reservations, [b.cidr for b in pool_use.blocks]
        )
        pool_use.capacity, pool_use.reserved = capacity, reserved
        pool_use.available = sum(b.available for b in pool_use.blocks) + outside
    return usage


def _overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)


@dataclass(frozen=True, slots=True)
class BorrowedIP:
    """An address allocated to a node other than the block's owner."""

    address: str
    borrowing_node: str
    block: str
    block_owner: str
    allocation_type: str
    allocated_to: str


def borrowed_ips(ds: Datastore) -> tuple[list[BorrowedIP], int]:
    """Borrowed addresses, and how many allocations carry no ``node`` attribute
    (so cannot be classified)."""
    found: list[BorrowedIP] = []
    unclassified = 0
    for kv in store.list_blocks(ds):
        block = kv.block
        owner = block.host or ""
        for ordinal, index in enumerate(block.allocations):
            if index is None:
                continue
            attrs = block.attributes[index].active_owner_attrs or {}
            node = attrs.get("node")
            if node is None:
                unclassified += 1
            elif node != owner:
                kind, allocated_to = _allocation_owner(attrs)
                found.append(
                    BorrowedIP(
                        str(block.ip_at(ordinal)), node, str(block.cidr), owner, kind, allocated_to
                    )
                )
    found.sort(key=lambda b: ip_order(b.address))
    return found, unclassified


def _allocation_owner(attrs: dict[str, str]) -> tuple[str, str]:
    namespace = attrs.get("namespace", "")
    if "vmi-name" in attrs:
        return "vmi", f"{namespace}/{attrs['vmi-name']}"
    if "pod" in attrs:
        return "pod", f"{namespace}/{attrs['pod']}"
    return attrs.get("type", ""), ""
