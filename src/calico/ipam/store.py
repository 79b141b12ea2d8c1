"""IPAM objects in the datastore: blocks, affinities and handles, each with the
revision it was read at, and compare-and-swap writes.

There are no locks anywhere in IPAM.  Every change is "read, modify in memory,
write back only if nobody wrote since" (``update``/``delete`` with the read
revision, ``create`` for new keys).  When the write loses a race the whole
attempt is redone from a fresh read, up to :data:`DATASTORE_RETRIES` times
(libcalico-go's ``datastoreRetries``), by :func:`retry`.

Soft-deleted values (``"deleted": true``, left behind by Calico's Kubernetes
backend) are treated as absent by every reader.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from calico.datastore import KV, Datastore
from calico.errors import AlreadyExistsError, ConflictError, IPAMError, NotFoundError
from calico.ipam import keys
from calico.ipam._types import IPNetwork
from calico.ipam.block import AllocationBlock
from calico.ipam.keys import AffinityKey

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

DATASTORE_RETRIES = 100

# Errors meaning "another writer got there first": the attempt is redone from
# a fresh read.  A key that vanished under an update, or appeared under a
# create, is the same kind of race as a moved revision.
RACES = (ConflictError, NotFoundError, AlreadyExistsError)

STATE_PENDING = "pending"
STATE_CONFIRMED = "confirmed"
STATE_PENDING_DELETION = "pendingDeletion"


def retry(what: str, attempt: Callable[[], _T]) -> _T:
    """Run ``attempt`` until it does not lose a race, at most DATASTORE_RETRIES times.

    A short randomised back-off after each lost race stops many processes that
    collide on one block from colliding again in lock-step.
    """
    for failures in range(DATASTORE_RETRIES):
        try:
            return attempt()
        except RACES as exc:
            _log.debug("%s: lost a race (%s), retrying", what, exc)
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(failures, 6))))
    raise IPAMError(f"{what}: max retries hit - excessive concurrent IPAM requests")


def _dump(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _live(kv: KV | None) -> KV | None:
    if kv is None or json.loads(kv.value).get("deleted", False):
        return None
    return kv


# -- blocks ------------------------------------------------------------------


@dataclass(slots=True)
class BlockKV:
    block: AllocationBlock
    revision: int


def _decode_block(kv: KV | None, cooldown_seconds: int) -> BlockKV | None:
    if kv is None:
        return None
    block = AllocationBlock.from_json(kv.value)
    if block.deleted:
        return None
    # Free addresses whose cooldown is over, in memory only: the result is
    # persisted by whichever write comes next (as libcalico-go does).
    block.garbage_collect(cooldown_seconds)
    return BlockKV(block, kv.mod_revision)


def get_block(
    ds: Datastore, cidr: IPNetwork, cooldown_seconds: int | None = None
) -> BlockKV | None:
    """The block at ``cidr``; ``cooldown_seconds`` None means the configured one."""
    cooldown = _cooldown(ds, cooldown_seconds)
    return _decode_block(ds.get(keys.block_key(cidr)), cooldown)


def list_blocks(
    ds: Datastore, version: int | None = None, cooldown_seconds: int | None = None
) -> list[BlockKV]:
    """Every live block; ``cooldown_seconds`` None means the configured one."""
    cooldown = _cooldown(ds, cooldown_seconds)
    items, _ = ds.list(keys.block_prefix(version))
    decoded = (_decode_block(kv, cooldown) for kv in items if keys.parse_block_key(kv.key))
    return [b for b in decoded if b is not None]


def _cooldown(ds: Datastore, cooldown_seconds: int | None) -> int:
    """The cooldown to garbage-collect with.  Defaulting to 0 would make every
    reader that forgot to pass it see addresses still cooling down as free
    (``ipam check`` missed them; an affinity release could judge such a block
    empty), so an unspecified cooldown is read from IPAMConfiguration."""
    if cooldown_seconds is not None:
        return cooldown_seconds
    from calico.ipam.pools import read_ipam_config  # pools imports this module

    return read_ipam_config(ds).ip_cooldown_seconds


def create_block(ds: Datastore, block: AllocationBlock) -> BlockKV:
    """AlreadyExistsError if someone else created it first."""
    revision = ds.create(keys.block_key(block.cidr), block.to_json())
    return BlockKV(block, revision)


def update_block(ds: Datastore, kv: BlockKV) -> BlockKV:
    """CAS-write ``kv.block``; every write bumps the block's sequence number."""
    kv.block.sequence_number += 1
    revision = ds.update(keys.block_key(kv.block.cidr), kv.block.to_json(), kv.revision)
    return BlockKV(kv.block, revision)


def delete_block(ds: Datastore, kv: BlockKV) -> None:
    ds.delete(keys.block_key(kv.block.cidr), kv.revision)


# -- affinities --------------------------------------------------------------


@dataclass(slots=True)
class AffinityKV:
    key: AffinityKey
    state: str
    revision: int


def _decode_affinity(key: AffinityKey, kv: KV) -> AffinityKV:
    return AffinityKV(key, json.loads(kv.value).get("state", ""), kv.mod_revision)


def get_affinity(ds: Datastore, key: AffinityKey) -> AffinityKV | None:
    kv = _live(ds.get(key.key))
    return None if kv is None else _decode_affinity(key, kv)


def list_affinities(ds: Datastore, prefix: str) -> list[AffinityKV]:
    items, _ = ds.list(prefix)
    found: list[AffinityKV] = []
    for kv in items:
        key = keys.parse_affinity_key(kv.key)
        if key is not None and _live(kv) is not None:
            found.append(_decode_affinity(key, kv))
    return found


def host_affinities(
    ds: Datastore, host: str, version: int, affinity_type: str = keys.AFFINITY_TYPE_HOST
) -> list[AffinityKV]:
    return list_affinities(ds, keys.host_affinity_prefix(host, version, affinity_type))


def create_affinity(ds: Datastore, key: AffinityKey, state: str) -> AffinityKV:
    revision = ds.create(key.key, _dump({"state": state, "deleted": False}))
    return AffinityKV(key, state, revision)


def update_affinity(ds: Datastore, aff: AffinityKV, state: str) -> AffinityKV:
    revision = ds.update(aff.key.key, _dump({"state": state, "deleted": False}), aff.revision)
    return AffinityKV(aff.key, state, revision)


def delete_affinity(ds: Datastore, aff: AffinityKV) -> None:
    ds.delete(aff.key.key, aff.revision)


# -- handles -----------------------------------------------------------------


@dataclass(slots=True)
class HandleKV:
    """How many addresses a handle holds in each block (an index for release)."""

    handle_id: str
    blocks: dict[str, int] = field(default_factory=dict)
    revision: int | None = None  # None: not stored yet

    @property
    def total(self) -> int:
        return sum(self.blocks.values())


def get_handle(ds: Datastore, handle_id: str) -> HandleKV | None:
    kv = _live(ds.get(keys.handle_key(handle_id)))
    if kv is None:
        return None
    counts = json.loads(kv.value).get("block") or {}
    return HandleKV(handle_id, {str(k): int(v) for k, v in counts.items()}, kv.mod_revision)


def list_handles(ds: Datastore) -> list[HandleKV]:
    items, _ = ds.list(keys.HANDLE_PREFIX)
    found: list[HandleKV] = []
    for kv in items:
        handle_id = keys.parse_handle_key(kv.key)
        if handle_id is not None and _live(kv) is not None:
            counts = json.loads(kv.value).get("block") or {}
            found.append(
                HandleKV(handle_id, {k: int(v) for k, v in counts.items()}, kv.mod_revision)
            )
    return found


def _save_handle(ds: Datastore, handle: HandleKV) -> None:
    key = keys.handle_key(handle.handle_id)
    if not handle.blocks:
        if handle.revision is not None:
            ds.delete(key, handle.revision)
        return
    value = _dump({"block": handle.blocks, "deleted": False})
    if handle.revision is None:
        ds.create(key, value)
    else:
        ds.update(key, value, handle.revision)


def increment_handle(ds: Datastore, handle_id: str, cidr: IPNetwork, num: int) -> None:
    """Record ``num`` more addresses of ``handle_id`` in block ``cidr`` (CAS, retried)."""

    def attempt() -> None:
        handle = get_handle(ds, handle_id) or HandleKV(handle_id)
        handle.blocks[str(cidr)] = handle.blocks.get(str(cidr), 0) + num
        _save_handle(ds, handle)

    retry(f"increment handle {handle_id}", attempt)


def decrement_handle(ds: Datastore, handle_id: str, cidr: IPNetwork, num: int) -> None:
    """Record ``num`` fewer addresses; the handle is deleted when it reaches zero."""

    def attempt() -> None:
        handle = get_handle(ds, handle_id)
        if handle is None:
            _log.warning("Handle %s vanished before its count was decremented", handle_id)
            return
        current = handle.blocks.get(str(cidr), 0)
        if current < num:
            # Self-heal rather than refuse (libcalico-go errors and leaves it).
            _log.warning("Handle %s has %d in %s, asked to drop %d", handle_id, current, cidr, num)
        if current - num > 0:
            handle.blocks[str(cidr)] = current - num
        else:
            handle.blocks.pop(str(cidr), None)
        _save_handle(ds, handle)

    retry(f"decrement handle {handle_id}", attempt)
