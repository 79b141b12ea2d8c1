"""Auto-assignment for one IP version (libcalico-go ``ipam.go`` ``autoAssign``).

In order, until the request is met:

1. the host's affine blocks, in the pools this request may use (a block whose
   affinity survived a crash but whose block did not is recreated);
2. new blocks, claimed in the host's walk order (``blockgen``), while the host
   owns fewer than ``maxBlocksPerHost`` blocks and ``autoAllocateBlocks`` is on;
   when no block is unclaimed, an empty block another host claimed over a
   minute ago is reclaimed;
3. unless ``strictAffinity``, addresses borrowed from any other block with room.

Within a block, writes are ordered so that a crash can only over-count: the
handle's count goes up *before* the block records the allocation, and comes
back down if the block write fails.  A handle therefore always knows every
block that holds its addresses, which is what release-by-handle relies on.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from calico.datastore import Datastore
from calico.errors import IPAMError, NoAddressesError
from calico.ipam import affinity as aff_ops
from calico.ipam import store
from calico.ipam._types import IPAddress, IPNetwork, parse_time
from calico.ipam.blockgen import in_walk_order, random_block_generator
from calico.ipam.keys import AFFINITY_TYPE_HOST, AFFINITY_TYPE_VIRTUAL, AffinityKey
from calico.ipam.pools import (
    DEFAULT_MAX_BLOCKS_PER_HOST,
    USE_LOADBALANCER,
    IPAMConfig,
    IPPool,
    get_node,
    list_pools,
    node_labels,
    read_ipam_config,
    read_reservations,
)
from calico.ipam.reserved import Reservations
from calico.ipam.store import DATASTORE_RETRIES, AffinityKV, BlockKV

_log = logging.getLogger(__name__)

# An empty block claimed by another host is only reclaimed after this long, so
# two hosts short of blocks cannot bounce one between them forever.
EMPTY_BLOCK_MIN_RECLAIM_AGE = timedelta(minutes=1)


class NoFreeBlocks(IPAMError):
    """No block can be claimed: every block of the usable pools is taken."""


class BlockLimitReached(NoAddressesError):
    """The host already has its maximum number of blocks."""


@dataclass(frozen=True, slots=True)
class AssignRequest:
    num: int
    version: int
    handle_id: str | None
    attrs: dict[str, str] | None
    hostname: str
    pools: tuple[str, ...] = ()  # requested pools (CIDRs or names); empty = any selecting the node
    max_blocks_per_host: int = 0
    intended_use: str = "Workload"


@dataclass(slots=True)
class FamilyAssigner:
    """Runs one request.  ``ips`` holds what was assigned so far, also when run()
    raises, so that the caller can give partial results back."""

    ds: Datastore
    request: AssignRequest
    ips: list[tuple[IPAddress, IPNetwork]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # Read at the start of run():
    config: IPAMConfig = field(default_factory=IPAMConfig)
    reservations: Reservations = field(default_factory=Reservations)
    pools: list[IPPool] = field(default_factory=list)
    affine: list[IPNetwork] = field(default_factory=list)

    @property
    def affinity_type(self) -> str:
        if self.request.intended_use == USE_LOADBALANCER:
            return AFFINITY_TYPE_VIRTUAL
        return AFFINITY_TYPE_HOST

    @property
    def mine(self) -> str:
        """The ``affinity`` value of this host's blocks."""
        return f"{self.affinity_type}:{self.request.hostname}"

    def run(self) -> None:
        self.config = read_ipam_config(self.ds)
        self.reservations = read_reservations(self.ds)
        mine = store.host_affinities(
            self.ds, self.request.hostname, self.request.version, self.affinity_type
        )
        self.pools = self._select_pools(mine)
        self.affine = [a.key.cidr for a in mine if _pool_of(self.pools, a.key.cidr) is not None]
        self._assign_from_own_blocks()
        if not self.config.strict_affinity and self.remaining > 0:
            self._borrow()

    @property
    def remaining(self) -> int:
        return self.request.num - len(self.ips)

    def shortfall(self) -> str:
        text = (
            f"Assigned {len(self.ips)} out of {self.request.num} requested "
            f"IPv{self.request.version} addresses"
        )
        return "; ".join([text, *self.messages])

    # -- pools -----------------------------------------------------------

    def _node_labels(self) -> dict[str, str]:
        if self.affinity_type == AFFINITY_TYPE_VIRTUAL:
            return {}
        node = get_node(self.ds, self.request.hostname)
        if node is None:
            raise IPAMError(f"node {self.request.hostname!r} does not exist; register it first")
        return node_labels(node)

    def _select_pools(self, affinities: list[AffinityKV]) -> list[IPPool]:
        """Pools this request may use: enabled, selecting the node, allowed for the use."""
        enabled = [p for p in list_pools(self.ds, self.request.version) if not p.disabled]
        labels = self._node_labels()
        if self.request.pools:
            by_id = {str(p.cidr): p for p in enabled} | {p.name: p for p in enabled}
            missing = [c for c in self.request.pools if c not in by_id]
            if missing:
                raise IPAMError(f"the given pool ({missing[0]}) does not exist, or is not enabled")
            # Explicitly requested pools are used whatever their node selector
            # says, as Calico does (backwards compatibility).
            selecting = list(dict.fromkeys(by_id[c] for c in self.request.pools))
        else:
            selecting = [
                p for p in enabled if p.assignment_mode == "Automatic" and p.selects_node(labels)
            ]
        if not selecting:
            raise NoAddressesError(f"no configured Calico pools for node {self.request.hostname}")
        self._release_unselected_blocks(affinities, enabled, selecting, labels)
        usable = [p for p in selecting if self.request.intended_use in p.allowed_uses]
        if not usable:
            raise NoAddressesError(
                f"no IP pools match the required use ({self.request.intended_use})"
            )
        return usable

    def _release_unselected_blocks(
        self,
        affinities: list[AffinityKV],
        enabled: list[IPPool],
        selecting: list[IPPool],
        labels: dict[str, str],
    ) -> None:
        """Give back empty affine blocks of pools that no longer select this node
        (its labels or the pool's nodeSelector changed)."""
        for aff in affinities:
            if _pool_of(selecting, aff.key.cidr) is not None:
                continue
            pool = _pool_of(enabled, aff.key.cidr)
            if pool is None or pool.selects_node(labels):
                continue
            if aff_ops.release_quietly(self.ds, aff.key, require_empty=True):
                _log.info("Released %s: its pool no longer selects %s", aff.key.cidr, aff.key.host)

    # -- affine and new blocks -------------------------------------------

    def _max_blocks(self) -> int:
        requested, configured = self.request.max_blocks_per_host, self.config.max_blocks_per_host
        limit = requested if requested > 0 else configured
        if configured > 0 and requested > configured:
            limit = configured  # the more restrictive of request and cluster config
        return limit or DEFAULT_MAX_BLOCKS_PER_HOST

    def _assign_from_own_blocks(self) -> None:
        owned, limit = len(self.affine), self._max_blocks()
        for _ in range(DATASTORE_RETRIES):
            if self.remaining <= 0:
                return
            try:
                kv, newly_claimed = self._find_or_claim_block(allow_new_claim=owned < limit)
            except NoFreeBlocks:
                if self.config.strict_affinity:
                    self.messages.append("No more free affine blocks and strict affinity enabled")
                return
            except BlockLimitReached:
                raise BlockLimitReached(
                    f"{self.shortfall()}; need to allocate an IPAM block but could not - "
                    f"limit of {limit} blocks reached for this node"
                ) from None
            owned += newly_claimed
            self._assign_in(kv.block.cidr, kv, affinity_check=self.config.strict_affinity)

    def _find_or_claim_block(self, allow_new_claim: bool) -> tuple[BlockKV, bool]:
        while self.affine:
            cidr = self.affine.pop(0)
            if self.reservations.matches_whole(cidr):
                continue
            kv = self._load_affine_block(cidr)
            if kv is not None and kv.block.num_free(self.reservations) > 0:
                return kv, False
        if not allow_new_claim:
            raise BlockLimitReached("block limit reached")
        if not self.config.auto_allocate_blocks:
            raise NoFreeBlocks("automatic block allocation is disabled")
        for _ in range(DATASTORE_RETRIES):
            subnet = self._find_usable_block()
            key = AffinityKey(self.request.hostname, subnet, self.affinity_type)
            try:
                kv = store.retry(f"claim block {subnet}", functools.partial(self._claim, key))
            except (aff_ops.BlockClaimConflict, aff_ops.StaleAffinity):
                continue  # someone else got it; look again
            if kv.block.num_free(self.reservations) > 0:
                return kv, True
        raise IPAMError("max retries hit - excessive concurrent IPAM requests")

    def _load_affine_block(self, cidr: IPNetwork) -> BlockKV | None:
        key = AffinityKey(self.request.hostname, cidr, self.affinity_type)

        def attempt() -> BlockKV | None:
            aff = store.get_affinity(self.ds, key)
            if aff is None:
                return None
            return aff_ops.block_from_affinity(self.ds, aff, self.config.ip_cooldown_seconds)

        try:
            return store.retry(f"load affine block {cidr}", attempt)
        except IPAMError as exc:  # stale affinity, claim conflict, retries exhausted
            _log.info("Skipping affine block %s: %s", cidr, exc)
            return None

    def _claim(self, key: AffinityKey) -> BlockKV:
        pending = aff_ops.get_pending_affinity(self.ds, key)
        return aff_ops.block_from_affinity(self.ds, pending, self.config.ip_cooldown_seconds)

    def _find_usable_block(self) -> IPNetwork:
        """A block CIDR that does not exist yet, or is ours with room, or (last
        resort) an empty block of another host that we managed to release."""
        existing = {
            kv.block.cidr: kv
            for kv in store.list_blocks(
                self.ds, self.request.version, self.config.ip_cooldown_seconds
            )
        }
        reclaimable: list[BlockKV] = []
        for pool in self.pools:
            for subnet in random_block_generator(pool.cidr, pool.block_size, self.request.hostname):
                if self.reservations.matches_whole(subnet):
                    continue
                kv = existing.get(subnet)
                if kv is None:
                    return subnet
                free = kv.block.num_free(self.reservations)
                if kv.block.affinity == self.mine and free:
                    return subnet
                if kv.block.empty() and free and kv.block.affinity is not None:
                    reclaimable.append(kv)
        for kv in reclaimable:
            if self._reclaim(kv):
                return kv.block.cidr
        raise NoFreeBlocks("no unclaimed blocks left in the usable pools")

    def _reclaim(self, kv: BlockKV) -> bool:
        block = kv.block
        claimed = parse_time(block.affinity_claim_time) if block.affinity_claim_time else None
        if claimed is not None and datetime.now(UTC) - claimed < EMPTY_BLOCK_MIN_RECLAIM_AGE:
            return False
        if block.host is None:
            return False
        owner_type = (block.affinity or "").split(":", 1)[0]
        key = AffinityKey(block.host, block.cidr, owner_type)
        try:
            # The sequence number makes sure we free the version we saw empty,
            # not one the owner (or another reclaimer) has since reused.
            return aff_ops.release_block_affinity(
                self.ds, key, require_empty=True, required_sequence_number=block.sequence_number
            )
        except (IPAMError, *store.RACES) as exc:
            _log.info("Could not reclaim empty block %s: %s", block.cidr, exc)
            return False

    # -- borrowing -------------------------------------------------------

    def _borrow(self) -> None:
        existing = {
            kv.block.cidr: kv
            for kv in store.list_blocks(
                self.ds, self.request.version, self.config.ip_cooldown_seconds
            )
        }
        exhausted: list[str] = []
        for pool in self.pools:
            for cidr in in_walk_order(existing, pool.cidr, pool.block_size, self.request.hostname):
                if self.remaining <= 0:
                    return
                if not self.reservations.matches_whole(cidr):
                    self._assign_in(cidr, existing[cidr], affinity_check=False)
            if self.remaining > 0:
                exhausted.append(str(pool.cidr))
        if exhausted:
            self.messages.append(f"No IPs available in pools: {exhausted}")

    # -- one block -------------------------------------------------------

    def _assign_in(self, cidr: IPNetwork, first: BlockKV | None, affinity_check: bool) -> None:
        """Assign as many of the remaining addresses as ``cidr`` can give."""
        cached = [first]

        def attempt() -> list[IPAddress]:
            kv = (
                cached.pop()
                if cached
                else store.get_block(self.ds, cidr, self.config.ip_cooldown_seconds)
            )
            return [] if kv is None else self._assign_once(kv, affinity_check)

        try:
            got = store.retry(f"assign from block {cidr}", attempt)
        except IPAMError as exc:
            _log.warning("Failed to assign from block %s: %s", cidr, exc)
            return
        self.ips.extend((ip, cidr) for ip in got)

    def _assign_once(self, kv: BlockKV, affinity_check: bool) -> list[IPAddress]:
        block = kv.block
        if affinity_check and block.affinity != self.mine:
            raise IPAMError(
                f"block {block.cidr} affinity {block.affinity} does not match {self.mine}"
            )
        ips = block.auto_assign(
            self.remaining, self.request.handle_id, self.request.attrs, self.reservations
        )
        if not ips:
            return []
        handle = self.request.handle_id
        if handle is not None:
            store.increment_handle(self.ds, handle, block.cidr, len(ips))
        try:
            store.update_block(self.ds, kv)
        except Exception:
            if handle is not None:
                store.decrement_handle(self.ds, handle, block.cidr, len(ips))
            raise
        return ips


def _pool_of(pools: list[IPPool], cidr: IPNetwork) -> IPPool | None:
    return next((p for p in pools if p.contains(cidr.network_address)), None)
