"""Candidate lookup for the label index: selectors and items filed by label.

A selector is filed under one label restriction that every matching label
map must satisfy (``calico.selector`` computes them, as Calico's
``LabelRestrictions()`` does).  Preference, best first:

1. a label that must have one of a few values (``app == "db"``) - filed
   under each (label, value) pair;
2. a label that must be present (``has(app)``) - filed under the label;
3. nothing usable (``all()``, ``!has(a)``, ``a != "x"``) - "unrestricted",
   a candidate for every item.

But first, when items are known, the restriction that fewest items satisfy
right now (``projectcalico.org/namespace == "ns1"`` in a cluster of many
namespaces beats ``tier == "fe"`` held by half the pods).  Among equals we
prefer labels outside ``projectcalico.org/``, then fewer values.  A selector
no label map can satisfy is filed nowhere.  Where a selector is filed only
affects speed, never the matches, so the index may re-file selectors at any
time (``LabelIndex.rebalance``, after the initial snapshot).

Items are filed under every (label, value) pair and every label they have,
so a selector finds its candidate items the same way round.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from calico.selector import Selector

I = TypeVar("I", bound=Hashable)  # noqa: E741
S = TypeVar("S", bound=Hashable)
K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=Hashable)

_CALICO_LABEL_PREFIX = "projectcalico.org/"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a selector is filed: kind is value, present, any or never."""

    kind: str
    label: str = ""
    values: frozenset[str] = frozenset()


_ANY = Placement("any")
_NEVER = Placement("never")


def placement_of(selector: Selector, items: ItemBuckets[Any] | None = None) -> Placement:
    """The restriction to file ``selector`` under.

    With ``items``, the restriction that currently leaves the fewest candidate
    items wins (it is also the one that makes the selector a candidate for
    the fewest item updates); ties, e.g. before any item is known, go by the
    static preference in the module docstring, then by label name.
    """
    best: tuple[tuple[int, int, bool, int, str], Placement] | None = None
    for label, restriction in selector.label_restrictions().items():
        if not restriction.possible_to_satisfy:
            return _NEVER
        values = restriction.must_have_one_of_values
        if values is not None:
            placement, rank = Placement("value", label, values), 0
        elif restriction.must_be_present:
            placement, rank = Placement("present", label), 1
        else:
            continue  # "must be absent" cannot be looked up
        count = items.count(placement) if items is not None else 0
        shared = label.startswith(_CALICO_LABEL_PREFIX)
        score = (count, rank, shared, len(placement.values), label)
        if best is None or score < best[0]:
            best = (score, placement)
    return _ANY if best is None else best[1]


def _add(buckets: dict[K, set[M]], key: K, member: M) -> None:
    buckets.setdefault(key, set()).add(member)


def _discard(buckets: dict[K, set[M]], key: K, member: M) -> None:
    bucket = buckets.get(key)
    if bucket is not None:
        bucket.discard(member)
        if not bucket:
            del buckets[key]


class SelectorBuckets(Generic[S]):
    """Selectors by placement; answers "which selectors could match these labels"."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], set[S]] = {}
        self._by_label: dict[str, set[S]] = {}
        self._unrestricted: set[S] = set()

    def add(self, sel_id: S, placement: Placement) -> None:
        if placement.kind == "value":
            for value in placement.values:
                _add(self._by_value, (placement.label, value), sel_id)
        elif placement.kind == "present":
            _add(self._by_label, placement.label, sel_id)
        elif placement.kind == "any":
            self._unrestricted.add(sel_id)

    def remove(self, sel_id: S, placement: Placement) -> None:
        if placement.kind == "value":
            for value in placement.values:
                _discard(self._by_value, (placement.label, value), sel_id)
        elif placement.kind == "present":
            _discard(self._by_label, placement.label, sel_id)
        else:
            self._unrestricted.discard(sel_id)

    def candidates(self, labels: Mapping[str, str]) -> set[S]:
        found = set(self._unrestricted)
        by_value = self._by_value
        for pair in labels.items():
            bucket = by_value.get(pair)
            if bucket:
                found |= bucket
        if self._by_label:
            for label in labels:
                bucket = self._by_label.get(label)
                if bucket:
                    found |= bucket
        return found


class ItemBuckets(Generic[I]):
    """Items by (label, value) and by label; answers "which items could a
    selector with this placement match"."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], set[I]] = {}
        self._by_label: dict[str, set[I]] = {}

    def move(self, item_id: I, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        by_value, by_label = self._by_value, self._by_label
        for label, value in old.items():
            if new.get(label) != value:
                _discard(by_value, (label, value), item_id)
                if label not in new:
                    _discard(by_label, label, item_id)
        for label, value in new.items():
            if old.get(label) != value:
                _add(by_value, (label, value), item_id)
                if label not in old:
                    _add(by_label, label, item_id)

    def remove(self, item_id: I, labels: Mapping[str, str]) -> None:
        self.move(item_id, labels, {})

    def count(self, placement: Placement) -> int:
        """How many items a selector with this placement would have to check."""
        if placement.kind == "value":
            return sum(len(self._by_value.get((placement.label, v), ())) for v in placement.values)
        return len(self._by_label.get(placement.label, ()))

    def candidates(self, placement: Placement, all_items: Mapping[I, object]) -> Iterable[I]:
        if placement.kind == "value":
            found: set[I] = set()
            for value in placement.values:
                found |= self._by_value.get((placement.label, value), set())
            return found
        if placement.kind == "present":
            return set(self._by_label.get(placement.label, ()))
        if placement.kind == "any":
            return list(all_items)
        return ()
