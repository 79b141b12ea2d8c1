"""The allocation block: one /26 (v4) or /122 (v6) of a pool, and pure operations on it.

The JSON form is exactly Calico's ``model.AllocationBlock``::

    {"cidr": "10.65.0.0/26", "affinity": "host:node1",
     "affinity_claim_time": "2024-05-01T10:00:00Z",
     "allocations": [0, null, ...],            # per ordinal: index into attributes, or free
     "unallocated": [1, 2, ...],               # FIFO of free ordinals
     "attributes": [{"handle_id": "h", "secondary": {"node": "node1"}}],
     "sequenceNumber": 1714557600000000000,
     "sequenceNumberForAllocation": {"0": 1714557600000000000},
     "deleted": false}

Why the odd shapes:

* ``unallocated`` is a queue: allocation pops from the head, release appends to
  the tail, so a freed address is reused as late as possible.
* ``attributes`` are shared by every allocation with the same handle and
  owner attributes, which keeps a full block small.
* ``sequenceNumber`` starts at the creation time in ns and goes up on every
  write; the per-ordinal copy lets a release say "the allocation I saw", so a
  stale release cannot free an address that has since been handed out again.
* A release does not free the ordinal at once: it points it at an attribute
  carrying only ``releasedAt``.  ``garbage_collect`` frees it once the
  configured cooldown has passed (0 by default: the same write).

Nothing here touches the datastore; ``calico.ipam.store`` persists blocks.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from calico.errors import BadSequenceNumberError, IPAMError
from calico.ipam._types import IPAddress, IPNetwork, format_time, parse_ip, parse_time
from calico.ipam.reserved import Reservations

# Windows hosts pre-allocate a few addresses of each block under this handle;
# such a block still counts as empty (libcalico-go ipam_block.go).
WINDOWS_RESERVED_HANDLE = "windows-reserved-ipam-handle"


def _attrs_or_none(attrs: dict[str, str] | None) -> dict[str, str] | None:
    # Empty and missing maps are the same thing; normalising lets attribute
    # entries be shared by equality.
    return dict(attrs) if attrs else None


@dataclass(slots=True)
class AllocationAttribute:
    """Who holds an allocation: the handle and free-form owner attributes."""

    handle_id: str | None = None
    active_owner_attrs: dict[str, str] | None = None
    alternate_owner_attrs: dict[str, str] | None = None
    released_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.handle_id is not None:
            out["handle_id"] = self.handle_id
        if self.active_owner_attrs:
            out["secondary"] = dict(self.active_owner_attrs)
        if self.alternate_owner_attrs:
            out["alternateOwnerAttrs"] = dict(self.alternate_owner_attrs)
        if self.released_at is not None:
            out["releasedAt"] = format_time(self.released_at)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AllocationAttribute:
        released = data.get("releasedAt")
        return cls(
            handle_id=data.get("handle_id"),
            active_owner_attrs=_attrs_or_none(data.get("secondary")),
            alternate_owner_attrs=_attrs_or_none(data.get("alternateOwnerAttrs")),
            released_at=parse_time(released) if released else None,
        )


@dataclass(frozen=True, slots=True)
class ReleaseOptions:
    """One address to release; ``handle``/``sequence_number`` guard against staleness."""

    address: str
    handle: str | None = None
    sequence_number: int | None = None


@dataclass(slots=True)
class AllocationBlock:
    cidr: IPNetwork
    allocations: list[int | None]
    unallocated: list[int]
    attributes: list[AllocationAttribute] = field(default_factory=list)
    affinity: str | None = None
    affinity_claim_time: str | None = None
    sequence_number: int = 0
    sequence_number_for_allocation: dict[str, int] = field(default_factory=dict)
    deleted: bool = False

    # -- construction and JSON ----------------------------------------------

    @classmethod
    def new(cls, cidr: IPNetwork, affinity: str | None = None) -> AllocationBlock:
        """An empty block.  The sequence number starts at "now" so that a block
        deleted and recreated never repeats a sequence number."""
        size = cidr.num_addresses
        return cls(
            cidr=cidr,
            allocations=[None] * size,
            unallocated=list(range(size)),
            affinity=affinity,
            affinity_claim_time=format_time(datetime.now(UTC)) if affinity else None,
            sequence_number=time.time_ns(),
        )

    @classmethod
    def from_json(cls, text: str) -> AllocationBlock:
        data = json.loads(text)
        return cls(
            cidr=ipaddress.ip_network(data["cidr"]),
            allocations=list(data.get("allocations") or []),
            unallocated=list(data.get("unallocated") or []),
            attributes=[AllocationAttribute.from_json(a) for a in data.get("attributes") or []],
            affinity=data.get("affinity"),
            affinity_claim_time=data.get("affinity_claim_time"),
            sequence_number=int(data.get("sequenceNumber") or 0),
            sequence_number_for_allocation={
                str(k): int(v) for k, v in (data.get("sequenceNumberForAllocation") or {}).items()
            },
            deleted=bool(data.get("deleted", False)),
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {"cidr": str(self.cidr), "affinity": self.affinity}
        if self.affinity_claim_time is not None:
            data["affinity_claim_time"] = self.affinity_claim_time
        data |= {
            "allocations": self.allocations,
            "unallocated": self.unallocated,
            "attributes": [a.to_json() for a in self.attributes],
            "sequenceNumber": self.sequence_number,
            "sequenceNumberForAllocation": self.sequence_number_for_allocation,
            "deleted": self.deleted,
        }
        return json.dumps(data, separators=(",", ":"))

    # -- addressing ---------------------------------------------------------

    @property
    def num_addresses(self) -> int:
        return self.cidr.num_addresses

    @property
    def host(self) -> str | None:
        """The node (or virtual host) in ``affinity`` ("host:<node>"), if any."""
        if self.affinity is None or ":" not in self.affinity:
            return None
        return self.affinity.split(":", 1)[1]

    def ordinal(self, ip: IPAddress) -> int:
        if ip.version != self.cidr.version or ip not in self.cidr:
            raise IPAMError(f"IP {ip} not in block {self.cidr}")
        return int(ip) - int(self.cidr.network_address)

    def ip_at(self, ordinal: int) -> IPAddress:
        return self.cidr.network_address + ordinal

    def sequence_number_of(self, ordinal: int) -> int:
        return self.sequence_number_for_allocation.get(str(ordinal), 0)

    def _stamp(self, ordinal: int) -> None:
        self.sequence_number_for_allocation[str(ordinal)] = self.sequence_number

    # -- assignment ---------------------------------------------------------

    def auto_assign(
        self,
        num: int,
        handle_id: str | None,
        attrs: dict[str, str] | None,
        reservations: Reservations,
    ) -> list[IPAddress]:
        """Take up to ``num`` addresses from the head of ``unallocated``.

        Reserved ordinals are skipped but keep their place in the queue.
        """
        taken: list[IPAddress] = []
        keep: list[int] = []
        attr_index: int | None = None
        for position, ordinal in enumerate(self.unallocated):
            if len(taken) >= num:
                keep.extend(self.unallocated[position:])
                break
            ip = self.ip_at(ordinal)
            if reservations and reservations.matches_ip(ip):
                keep.append(ordinal)
                continue
            if attr_index is None:
                attr_index = self._find_or_add_attribute(handle_id, attrs)
            self.allocations[ordinal] = attr_index
            self._stamp(ordinal)
            taken.append(ip)
        self.unallocated = keep
        return taken

    def assign(self, ip: IPAddress, handle_id: str | None, attrs: dict[str, str] | None) -> None:
        """Allocate one specific address; IPAMError if it is taken."""
        ordinal = self.ordinal(ip)
        if self.allocations[ordinal] is not None:
            raise IPAMError(f"Address {ip} is already assigned in block {self.cidr}")
        self.allocations[ordinal] = self._find_or_add_attribute(handle_id, attrs)
        self._stamp(ordinal)
        self.unallocated.remove(ordinal)

    def _find_or_add_attribute(self, handle_id: str | None, attrs: dict[str, str] | None) -> int:
        wanted = AllocationAttribute(handle_id, _attrs_or_none(attrs))
        for index, existing in enumerate(self.attributes):
            if existing == wanted:
                return index
        self.attributes.append(wanted)
        return len(self.attributes) - 1

    # -- release ------------------------------------------------------------

    def release(
        self, options: Sequence[ReleaseOptions], cooldown_seconds: int, now: datetime | None = None
    ) -> tuple[list[IPAddress], dict[str, int]]:
        """Release addresses; returns ``(not_allocated, released_count_by_handle)``.

        All-or-nothing: a stale sequence number or a mismatched handle on any
        address raises before the block is touched.
        """
        unique = {parse_ip(o.address): o for o in options}
        not_allocated: list[IPAddress] = []
        by_handle: dict[str, int] = {}
        ordinals: list[int] = []
        for ip, opts in unique.items():
            ordinal = self.ordinal(ip)
            stored = self.sequence_number_of(ordinal)
            if opts.sequence_number is not None and opts.sequence_number != stored:
                raise BadSequenceNumberError(
                    f"release of {ip} refused: sequence number {opts.sequence_number} "
                    f"is stale (now {stored})"
                )
            attr = self._live_attribute(ordinal)
            if attr is None:
                not_allocated.append(ip)
                continue
            if opts.handle and attr.handle_id != opts.handle:
                raise IPAMError(
                    f"release of {ip} refused: it belongs to handle {attr.handle_id!r}, "
                    f"not {opts.handle!r}"
                )
            ordinals.append(ordinal)
            if attr.handle_id:
                by_handle[attr.handle_id] = by_handle.get(attr.handle_id, 0) + 1
        self._start_cooldown(ordinals, cooldown_seconds, now)
        return not_allocated, by_handle

    def release_by_handle(
        self,
        handle_id: str,
        cooldown_seconds: int,
        sequence_number: int | None = None,
        now: datetime | None = None,
    ) -> int:
        """Release every address of ``handle_id`` (whose sequence number matches,
        if one is given); returns how many were released."""
        ordinals = [
            o
            for o in self._ordinals_of(handle_id)
            if sequence_number is None or self.sequence_number_of(o) == sequence_number
        ]
        self._start_cooldown(ordinals, cooldown_seconds, now)
        return len(ordinals)

    def _start_cooldown(
        self, ordinals: list[int], cooldown_seconds: int, now: datetime | None
    ) -> None:
        if not ordinals:
            return
        now = now or datetime.now(UTC)
        self.attributes.append(AllocationAttribute(released_at=now))
        for ordinal in ordinals:
            self.allocations[ordinal] = len(self.attributes) - 1
            self._stamp(ordinal)
        self.garbage_collect(cooldown_seconds, now)

    def garbage_collect(self, cooldown_seconds: int, now: datetime | None = None) -> bool:
        """Free released ordinals whose cooldown is over and drop unused
        attributes; returns True if the block changed."""
        now = now or datetime.now(UTC)
        deadline = now - timedelta(seconds=max(cooldown_seconds, 0))
        changed = False
        for ordinal, index in enumerate(self.allocations):
            if index is None:
                continue
            released = self.attributes[index].released_at
            if released is not None and released <= deadline:
                self.allocations[ordinal] = None
                self.unallocated.append(ordinal)
                self.sequence_number_for_allocation.pop(str(ordinal), None)
                changed = True
        return self._compact_attributes() or changed

    def _compact_attributes(self) -> bool:
        used = sorted({i for i in self.allocations if i is not None})
        if len(used) == len(self.attributes):
            return False
        remap = {old: new for new, old in enumerate(used)}
        self.attributes = [self.attributes[old] for old in used]
        self.allocations = [None if i is None else remap[i] for i in self.allocations]
        return True

    # -- queries ------------------------------------------------------------

    def _live_attribute(self, ordinal: int) -> AllocationAttribute | None:
        """The attribute of an allocated, not-released ordinal, else None."""
        index = self.allocations[ordinal]
        if index is None or self.attributes[index].released_at is not None:
            return None
        return self.attributes[index]

    def _ordinals_of(self, handle_id: str) -> list[int]:
        return [
            o
            for o in range(self.num_addresses)
            if (a := self._live_attribute(o)) is not None and a.handle_id == handle_id
        ]

    def ips_by_handle(self, handle_id: str) -> list[IPAddress]:
        return [self.ip_at(o) for o in self._ordinals_of(handle_id)]

    def attributes_for(self, ip: IPAddress) -> AllocationAttribute | None:
        """The live allocation's attributes, or None if free or cooling down."""
        return self._live_attribute(self.ordinal(ip))

    def in_use_ips(self) -> list[IPAddress]:
        return [self.ip_at(o) for o, i in enumerate(self.allocations) if i is not None]

    def empty(self) -> bool:
        """True when nothing but Windows-reserved addresses is allocated."""
        return all(
            index is None or self.attributes[index].handle_id == WINDOWS_RESERVED_HANDLE
            for index in self.allocations
        )

    def num_free(self, reservations: Reservations) -> int:
        """Addresses that can still be handed out."""
        if not reservations.matches_some(self.cidr):
            return len(self.unallocated)
        if reservations.matches_whole(self.cidr):
            return 0
        return sum(1 for o in self.unallocated if not reservations.matches_ip(self.ip_at(o)))

    def num_reserved(self, reservations: Reservations) -> int:
        """Addresses a reservation covers, allocated or not."""
        return reservations.count_in(self.cidr)
