"""The sequencer's buffer for IP sets: whole sets, removals and member deltas.

A set not yet known to the dataplane (or removed and re-added since the last
flush) goes out as one ``IPSetUpdate`` with its full membership; after that,
membership changes go out as ``IPSetDeltaUpdate``.  A member added and removed
again between two flushes cancels out, as does a set added and removed.
"""

from __future__ import annotations

from calico.felix.messages import (
    DataplaneMessage,
    IPSetDeltaUpdate,
    IPSetRemove,
    IPSetType,
    IPSetUpdate,
)


class IPSetBuffer:
    def __init__(self) -> None:
        self._sent: set[str] = set()
        self._new: dict[str, tuple[IPSetType, set[str]]] = {}  # full updates pending
        self._removed: set[str] = set()
        self._added_members: dict[str, set[str]] = {}
        self._removed_members: dict[str, set[str]] = {}

    def on_ipset_added(self, set_id: str, set_type: IPSetType) -> None:
        # A (re)added set starts empty: drop any delta still pending for it.
        self._removed.discard(set_id)
        self._new[set_id] = (set_type, set())
        self._drop_deltas(set_id)

    def on_ipset_removed(self, set_id: str) -> None:
        self._new.pop(set_id, None)
        self._drop_deltas(set_id)
        if set_id in self._sent:
            self._removed.add(set_id)

    def on_member_added(self, set_id: str, member: str) -> None:
        if set_id in self._new:
            self._new[set_id][1].add(member)
        elif self._is_live(set_id):
            _cancel_or_add(self._removed_members, self._added_members, set_id, member)

    def on_member_removed(self, set_id: str, member: str) -> None:
        if set_id in self._new:
            self._new[set_id][1].discard(member)
        elif self._is_live(set_id):
            _cancel_or_add(self._added_members, self._removed_members, set_id, member)

    def flush_updates(self, out: list[DataplaneMessage]) -> None:
        for set_id in sorted(self._new):
            set_type, members = self._new[set_id]
            out.append(IPSetUpdate(set_id, frozenset(members), set_type))
            self._sent.add(set_id)
        self._new.clear()
        for set_id in sorted(self._added_members.keys() | self._removed_members.keys()):
            added = frozenset(self._added_members.get(set_id, ()))
            removed = frozenset(self._removed_members.get(set_id, ()))
            out.append(IPSetDeltaUpdate(set_id, added, removed))
        self._added_members.clear()
        self._removed_members.clear()

    def flush_removes(self, out: list[DataplaneMessage]) -> None:
        for set_id in sorted(self._removed):
            out.append(IPSetRemove(set_id))
            self._sent.discard(set_id)
        self._removed.clear()

    def _is_live(self, set_id: str) -> bool:
        """Sent to the dataplane and not about to be removed from it."""
        return set_id in self._sent and set_id not in self._removed

    def _drop_deltas(self, set_id: str) -> None:
        self._added_members.pop(set_id, None)
        self._removed_members.pop(set_id, None)


def _cancel_or_add(
    opposite: dict[str, set[str]], same: dict[str, set[str]], set_id: str, member: str
) -> None:
    """Record a member change, or cancel the opposite change still pending."""
    pending = opposite.get(set_id)
    if pending is not None and member in pending:
        pending.discard(member)
        if not pending:
            del opposite[set_id]
    else:
        same.setdefault(set_id, set()).add(member)
