"""Block affinity: how a host claims a block and gives it back.

The claim protocol (libcalico-go ``ipam_block_reader_writer.go``) never needs
a lock, because the block key itself is the arbiter: whoever *creates* the
block owns it.

1. Write the affinity ``/calico/ipam/v2/host/<node>/ipv4/block/<cidr>`` as
   ``pending`` (or find our own existing one).
2. Create the block with ``affinity: host:<node>``.  If it already exists and
   is ours, another process on this host won; if it is someone else's, we lost:
   delete our pending affinity and look elsewhere.
3. Mark the affinity ``confirmed``.

A crash between 1 and 3 leaves a pending affinity: the next allocation on the
host finds it and either recreates the missing block or re-confirms.  A
pending affinity never routes traffic (BGP exports confirmed ones only).

Release runs the other way: mark the affinity ``pendingDeletion``, delete the
block if empty or strip its affinity if not, then delete the affinity.  Each
step is compare-and-swap; any lost race surfaces as a datastore race error
that the caller retries from a fresh read (``store.retry``).
"""

from __future__ import annotations

import logging

from calico.datastore import Datastore
from calico.errors import AlreadyExistsError, ConflictError, IPAMError, NotFoundError
from calico.ipam import store
from calico.ipam.block import AllocationBlock
from calico.ipam.keys import AffinityKey, host_prefix
from calico.ipam.store import (
    RACES,
    STATE_CONFIRMED,
    STATE_PENDING,
    STATE_PENDING_DELETION,
    AffinityKV,
    BlockKV,
)

_log = logging.getLogger(__name__)


class BlockClaimConflict(IPAMError):
    """The block belongs to another host."""


class StaleAffinity(IPAMError):
    """An affinity pointed at a block owned by someone else; it has been removed."""


class BlockNotEmpty(IPAMError):
    """Release was asked to require an empty block, and it is not."""


class BlockChanged(IPAMError):
    """The block moved on since the caller looked at it (sequence number differs)."""


def affinity_of(key: AffinityKey) -> str:
    """The block's ``affinity`` value for this key: ``host:<node>``."""
    return f"{key.affinity_type}:{key.host}"


def get_pending_affinity(ds: Datastore, key: AffinityKey) -> AffinityKV:
    """Step 1: create a pending affinity, or reuse ours (confirmed stays confirmed)."""
    try:
        return store.create_affinity(ds, key, STATE_PENDING)
    except AlreadyExistsError:
        existing = store.get_affinity(ds, key)
        if existing is None:
            raise ConflictError("affinity vanished while claiming", key=key.key) from None
        if existing.state == STATE_CONFIRMED:
            return existing
        return store.update_affinity(ds, existing, STATE_PENDING)


def confirm_affinity(ds: Datastore, aff: AffinityKV) -> AffinityKV:
    try:
        return store.update_affinity(ds, aff, STATE_CONFIRMED)
    except RACES:
        # Another process on this host may have confirmed it for us.
        current = store.get_affinity(ds, aff.key)
        if current is not None and current.state == STATE_CONFIRMED:
            return current
        raise


def claim_affine_block(ds: Datastore, aff: AffinityKV) -> BlockKV:
    """Steps 2 and 3: create the block for a pending affinity and confirm it."""
    block = AllocationBlock.new(aff.key.cidr, affinity=affinity_of(aff.key))
    try:
        created = store.create_block(ds, block)
    except AlreadyExistsError:
        existing = store.get_block(ds, aff.key.cidr)
        if existing is None:
            raise ConflictError("block vanished while claiming", key=aff.key.key) from None
        if existing.block.affinity == affinity_of(aff.key):
            confirm_affinity(ds, aff)  # another process on this host won the create
            return existing
        _delete_quietly(ds, aff)
        raise BlockClaimConflict(
            f"block {aff.key.cidr} is claimed by {existing.block.affinity}"
        ) from None
    confirm_affinity(ds, aff)
    return created


def block_from_affinity(ds: Datastore, aff: AffinityKV, cooldown_seconds: int) -> BlockKV:
    """The block an affinity names, recreating it if a claim crashed half-way.

    Raises StaleAffinity (after deleting the affinity) when the block is
    someone else's, and confirms an affinity left pending.
    """
    kv = store.get_block(ds, aff.key.cidr, cooldown_seconds)
    if kv is None:
        if aff.state != STATE_PENDING:
            aff = store.update_affinity(ds, aff, STATE_PENDING)
        return claim_affine_block(ds, aff)
    if kv.block.affinity != affinity_of(aff.key):
        store.delete_affinity(ds, aff)
        raise StaleAffinity(f"affinity {aff.key.key} is stale: block is {kv.block.affinity}")
    if aff.state not in (STATE_CONFIRMED, ""):  # "" = written by very old Calico
        aff = store.update_affinity(ds, aff, STATE_PENDING)
        # Rewriting the block gives it a new revision, which makes any
        # in-flight release of this affinity fail its compare-and-swap.
        kv = store.update_block(ds, kv)
        store.update_affinity(ds, aff, STATE_CONFIRMED)
    return kv


def release_block_affinity(
    ds: Datastore,
    key: AffinityKey,
    *,
    require_empty: bool = False,
    required_sequence_number: int | None = None,
) -> bool:
    """Give up ``key.host``'s affinity for ``key.cidr`` (one attempt; callers retry).

    Returns False when there is no such affinity.
    Raises BlockClaimConflict if the block is another host's (our affinity was
    stale and is removed), BlockNotEmpty, BlockChanged, or a datastore race.
    """
    aff = store.get_affinity(ds, key)
    if aff is None:
        return False
    kv = store.get_block(ds, key.cidr)
    if kv is None:
        # Nothing to strip: a release that died after deleting the block, or a
        # claim that died before creating it.  Only the affinity is left.
        store.delete_affinity(ds, aff)
        return True
    block = kv.block
    if required_sequence_number is not None and block.sequence_number != required_sequence_number:
        raise BlockChanged(f"block {key.cidr} changed since it was read")
    if block.affinity is not None and block.affinity != affinity_of(key):
        _delete_quietly(ds, aff)
        raise BlockClaimConflict(f"block {key.cidr} is claimed by {block.affinity}")
    empty = block.empty()
    if require_empty and not empty:
        raise BlockNotEmpty(f"block {key.cidr} is not empty")
    aff = store.update_affinity(ds, aff, STATE_PENDING_DELETION)
    if empty:
        store.delete_block(ds, kv)
    else:
        # Addresses stay allocated; the block merely stops being anyone's, so
        # its owner stops aggregating it and other hosts may borrow from it.
        block.affinity = None
        block.affinity_claim_time = None
        store.update_block(ds, kv)
    try:
        store.delete_affinity(ds, aff)
    except NotFoundError:
        pass
    return True


def release_quietly(ds: Datastore, key: AffinityKey, *, require_empty: bool) -> bool:
    """Release with retries, treating "not ours" and "not empty" as nothing to do."""
    try:
        return store.retry(
            f"release affinity {key.key}",
            lambda: release_block_affinity(ds, key, require_empty=require_empty),
        )
    except (BlockClaimConflict, BlockNotEmpty):
        return False


def remove_host_keys(ds: Datastore, host: str, affinity_type: str) -> None:
    """Delete whatever is left under ``/calico/ipam/v2/<type>/<host>/`` (e.g.
    pending affinities of a host that died mid-claim)."""
    items, _ = ds.list(host_prefix(host, affinity_type))
    for kv in items:
        try:
            ds.delete(kv.key, kv.mod_revision)
        except RACES:
            _log.info("%s changed while removing host %s; leaving it", kv.key, host)


def _delete_quietly(ds: Datastore, aff: AffinityKV) -> None:
    try:
        store.delete_affinity(ds, aff)
    except RACES:
        _log.debug("Could not clean up affinity %s", aff.key.key)
