"""Releasing addresses: by address (with optional handle and sequence-number
guards) and by handle (libcalico-go ``ReleaseIPs`` / ``ReleaseByHandle``).

Per block, one compare-and-swap write releases everything asked of that
block.  The handle counts come down only after the block write succeeded
(the mirror image of assignment, so a crash can only over-count).  A block
left empty with no affinity is deleted in the same write; an empty *affine*
block stays, because its host is still advertising it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from calico.datastore import Datastore
from calico.errors import IPAMError
from calico.ipam import affinity as aff_ops
from calico.ipam import store
from calico.ipam._types import IPAddress, IPNetwork, parse_ip
from calico.ipam.block import AllocationBlock, ReleaseOptions
from calico.ipam.blockgen import block_cidr_for
from calico.ipam.keys import AFFINITY_TYPE_HOST, AffinityKey
from calico.ipam.pools import get_node, list_pools, node_labels, pool_for_ip, read_ipam_config
from calico.ipam.store import BlockKV

_log = logging.getLogger(__name__)


def release_ips(ds: Datastore, options: Sequence[ReleaseOptions]) -> list[str]:
    """Release addresses; returns those that were not allocated in the first place.

    Raises BadSequenceNumberError or IPAMError (wrong handle) without touching
    that block; blocks before it in the request have already been released.
    """
    cooldown = read_ipam_config(ds).ip_cooldown_seconds
    grouped, not_allocated = _group_by_block(ds, options)
    for cidr, block_options in grouped.items():
        not_allocated += _release_in_block(ds, cidr, block_options, cooldown)
    return [str(ip) for ip in not_allocated]


def _group_by_block(
    ds: Datastore, options: Sequence[ReleaseOptions]
) -> tuple[dict[IPNetwork, list[ReleaseOptions]], list[IPAddress]]:
    # All pools, disabled ones too: their blocks still hold allocations.
    pools = list_pools(ds)
    known_blocks: list[IPNetwork] | None = None
    grouped: dict[IPNetwork, list[ReleaseOptions]] = {}
    not_allocated: list[IPAddress] = []
    for opts in options:
        ip = parse_ip(opts.address)
        pool = pool_for_ip(pools, ip)
        cidr: IPNetwork | None
        if pool is not None:
            cidr = block_cidr_for(ip, pool.block_size)
        else:
            # The pool is gone; find the block the slow way (once per call).
            if known_blocks is None:
                known_blocks = [kv.block.cidr for kv in store.list_blocks(ds)]
            cidr = next((b for b in known_blocks if b.version == ip.version and ip in b), None)
        if cidr is None:
            not_allocated.append(ip)
        else:
            grouped.setdefault(cidr, []).append(opts)
    return grouped, not_allocated


def _release_in_block(
    ds: Datastore, cidr: IPNetwork, options: list[ReleaseOptions], cooldown: int
) -> list[IPAddress]:
    wanted = {parse_ip(o.address) for o in options}

    def attempt() -> tuple[list[IPAddress], dict[str, int], AllocationBlock | None]:
        kv = store.get_block(ds, cidr, cooldown)
        if kv is None:
            return sorted(wanted), {}, None
        not_allocated, by_handle = kv.block.release(options, cooldown)
        if len(not_allocated) == len(wanted):
            return not_allocated, {}, None  # nothing to write
        _write_back(ds, kv)
        return not_allocated, by_handle, kv.block

    not_allocated, by_handle, block = store.retry(f"release IPs in {cidr}", attempt)
    for handle_id, count in by_handle.items():
        _decrement_quietly(ds, handle_id, cidr, count)
    if block is not None:
        ensure_consistent_affinity(ds, block)
    return not_allocated


def release_by_handle(ds: Datastore, handle_id: str) -> int:
    """Release every address held by ``handle_id``; returns how many were released.

    A missing handle means nothing is held: 0, not an error (CNI DEL must be
    idempotent).
    """
    handle = store.get_handle(ds, handle_id)
    if handle is None:
        return 0
    cooldown = read_ipam_config(ds).ip_cooldown_seconds
    total = 0
    for text in handle.blocks:
        cidr = ipaddress.ip_network(text)

        def attempt(cidr: IPNetwork = cidr) -> tuple[int, AllocationBlock | None]:
            kv = store.get_block(ds, cidr, cooldown)
            if kv is None:
                return 0, None
            released = kv.block.release_by_handle(handle_id, cooldown)
            if released:
                _write_back(ds, kv)
            return released, kv.block

        released, block = store.retry(f"release handle {handle_id} in {cidr}", attempt)
        if released and block is not None:
            _decrement_quietly(ds, handle_id, cidr, released)
            ensure_consistent_affinity(ds, block)
        total += released
    return total


def _write_back(ds: Datastore, kv: BlockKV) -> None:
    if kv.block.empty() and kv.block.affinity is None:
        store.delete_block(ds, kv)  # nobody advertises it; nothing left in it
    else:
        store.update_block(ds, kv)


def _decrement_quietly(ds: Datastore, handle_id: str, cidr: IPNetwork, count: int) -> None:
    # The addresses are already free; a handle that over-counts is reported by
    # `ipam check` and is harmless, so do not fail the release over it.
    try:
        store.decrement_handle(ds, handle_id, cidr, count)
    except IPAMError as exc:
        _log.warning("Failed to decrement handle %s: %s", handle_id, exc)


def ensure_consistent_affinity(ds: Datastore, block: AllocationBlock) -> None:
    """Release an emptied block's affinity if its pool no longer selects its node.

    Best effort: the addresses were released whatever happens here.
    """
    host = block.host
    # Only an emptied block can lose its affinity: skip the node and pool reads
    # (three datastore round trips) on every other release, i.e. most CNI DELs.
    if not block.empty():
        return
    if host is None or not (block.affinity or "").startswith(f"{AFFINITY_TYPE_HOST}:"):
        return
    node = get_node(ds, host)
    enabled = [p for p in list_pools(ds, block.cidr.version) if not p.disabled]
    pool = pool_for_ip(enabled, block.cidr.network_address)
    if node is None or pool is None or pool.selects_node(node_labels(node)):
        return
    key = AffinityKey(host, block.cidr)
    try:
        aff_ops.release_block_affinity(ds, key, require_empty=True)
    except (IPAMError, *store.RACES) as exc:
        _log.info("Left affinity of %s in place: %s", block.cidr, exc)
