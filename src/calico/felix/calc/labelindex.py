"""The label inheritance index: which items match which selectors.

Items are endpoints (and network sets); each has its own labels and an
ordered list of parents (profiles) whose ``labelsToApply`` it inherits.  The
effective labels are looked up key by key: the item's own labels first, then
each parent's in list order, first hit wins (REFERENCE 3.5, Calico's
``labelindex.InheritIndex``).  Selectors come and go; the index reports every
(selector, item) pair that starts or stops matching through two callbacks.

Cost model (the calc graph's hot path).  An item update evaluates only the
selectors that *could* match it, and a selector update only the items that
could match it: each selector is filed under one of its label restrictions
(``app == "x"`` needs label app with value x), and items are filed under
their label values, so both sides find their candidates with a few dict
lookups (Calico's ``labelrestrictionindex`` does the same).  A selector with
no usable restriction (``!has(a)``, ``all()``) is a candidate for everything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from calico.felix.calc._buckets import ItemBuckets, Placement, SelectorBuckets, placement_of
from calico.selector import Selector

I = TypeVar("I", bound=Hashable)  # noqa: E741 - item id, as in Calico's naming
S = TypeVar("S", bound=Hashable)

MatchCallback = Callable[[S, I], None]


class LabelIndex(Generic[I, S]):
    def __init__(
        self, on_match_started: MatchCallback[S, I], on_match_stopped: MatchCallback[S, I]
    ):
        self._on_started = on_match_started
        self._on_stopped = on_match_stopped
        # Items: own labels, parents, and the merged (effective) labels.
        self._own: dict[I, Mapping[str, str]] = {}
        self._parents_of: dict[I, tuple[str, ...]] = {}
        self._labels: dict[I, dict[str, str]] = {}
        # Parents: their labels and the items that name them.
        self._parent_labels: dict[str, Mapping[str, str]] = {}
        self._children: dict[str, set[I]] = {}
        # Selectors and where each is filed.
        self._selectors: dict[S, Selector] = {}
        self._placements: dict[S, Placement] = {}
        self._selector_buckets: SelectorBuckets[S] = SelectorBuckets()
        self._item_buckets: ItemBuckets[I] = ItemBuckets()
        # Current matches, both ways round.
        self._items_of: dict[S, set[I]] = {}
        self._selectors_of: dict[I, set[S]] = {}

    # -- queries ----------------------------------------------------------

    # The collections returned are live views: copy before changing the index.

    def items_matching(self, sel_id: S) -> Collection[I]:
        return self._items_of.get(sel_id) or frozenset()

    def selectors_matching(self, item_id: I) -> Collection[S]:
        return self._selectors_of.get(item_id) or frozenset()

    def labels_of(self, item_id: I) -> Mapping[str, str] | None:
        """The effective (own + inherited) labels of an item, None if unknown."""
        return self._labels.get(item_id)

    # -- items ------------------------------------------------------------

    def update_item(self, item_id: I, labels: Mapping[str, str], parents: Iterable[str]) -> None:
        parents = tuple(parents)
        if item_id in self._own:
            if self._own[item_id] == labels and self._parents_of[item_id] == parents:
                return
            self._unlink_parents(item_id)
        self._own[item_id] = labels
        self._parents_of[item_id] = parents
        for parent in parents:
            self._children.setdefault(parent, set()).add(item_id)
        self._refresh_item(item_id)

    def delete_item(self, item_id: I) -> None:
        if item_id not in self._own:
            return
        self._unlink_parents(item_id)
        del self._own[item_id], self._parents_of[item_id]
        self._item_buckets.remove(item_id, self._labels.pop(item_id))
        for sel_id in list(self._selectors_of.get(item_id, ())):
            self._stop(sel_id, item_id)

    def _unlink_parents(self, item_id: I) -> None:
        for parent in set(self._parents_of[item_id]):  # a parent may be listed twice
            children = self._children[parent]
            children.discard(item_id)
            if not children:
                del self._children[parent]

    def _refresh_item(self, item_id: I) -> None:
        """Recompute an item's effective labels and, if they changed, its matches."""
        labels = self._merge(item_id)
        old = self._labels.get(item_id)
        if old == labels:
            return
        self._item_buckets.move(item_id, old or {}, labels)
        self._labels[item_id] = labels
        old_matches: Collection[S] = self._selectors_of.get(item_id) or frozenset()
        new_matches = {
            sel_id
            for sel_id in self._selector_buckets.candidates(labels)
            if self._selectors[sel_id].evaluate(labels)
        }
        for sel_id in [s for s in old_matches if s not in new_matches]:
            self._stop(sel_id, item_id)
        for sel_id in new_matches:
            if sel_id not in old_matches:
                self._start(sel_id, item_id)

    def _merge(self, item_id: I) -> dict[str, str]:
        # Apply the lowest-priority source first so that later ones win: the
        # last parent, ..., the first parent, then the item's own labels.
        merged: dict[str, str] = {}
        for parent in reversed(self._parents_of[item_id]):
            parent_labels = self._parent_labels.get(parent)
            if parent_labels:
                merged.update(parent_labels)
        merged.update(self._own[item_id])
        return merged

    # -- parents ----------------------------------------------------------

    def update_parent(self, parent_id: str, labels: Mapping[str, str]) -> None:
        if self._parent_labels.get(parent_id) == labels:
            return
        self._parent_labels[parent_id] = labels
        self._refresh_children(parent_id)

    def delete_parent(self, parent_id: str) -> None:
        if self._parent_labels.pop(parent_id, None) is not None:
            self._refresh_children(parent_id)

    def _refresh_children(self, parent_id: str) -> None:
        for item_id in list(self._children.get(parent_id, ())):
            self._refresh_item(item_id)

    # -- selectors --------------------------------------------------------

    def update_selector(self, sel_id: S, selector: Selector) -> None:
        if self._selectors.get(sel_id) == selector:
            return
        if sel_id in self._selectors:
            self._selector_buckets.remove(sel_id, self._placements[sel_id])
        placement = placement_of(selector, self._item_buckets)
        self._selectors[sel_id] = selector
        self._placements[sel_id] = placement
        self._selector_buckets.add(sel_id, placement)
        evaluate = selector.evaluate
        labels = self._labels
        new_matches = {
            item_id
            for item_id in self._item_buckets.candidates(placement, labels)
            if evaluate(labels[item_id])
        }
        old_matches: Collection[I] = self._items_of.get(sel_id) or frozenset()
        for item_id in [i for i in old_matches if i not in new_matches]:
            self._stop(sel_id, item_id)
        for item_id in new_matches:
            if item_id not in old_matches:
                self._start(sel_id, item_id)

    def rebalance(self) -> None:
        """Re-file every selector under its now most selective restriction.

        Selectors placed before the items arrived (the initial snapshot lists
        policies before endpoints) were filed blind; matches do not change.
        """
        for sel_id, selector in self._selectors.items():
            placement = placement_of(selector, self._item_buckets)
            if placement != self._placements[sel_id]:
                self._selector_buckets.remove(sel_id, self._placements[sel_id])
                self._selector_buckets.add(sel_id, placement)
                self._placements[sel_id] = placement

    def delete_selector(self, sel_id: S) -> None:
        if sel_id not in self._selectors:
            return
        self._selector_buckets.remove(sel_id, self._placements.pop(sel_id))
        del self._selectors[sel_id]
        for item_id in list(self._items_of.get(sel_id, ())):
            self._stop(sel_id, item_id)

    # -- match bookkeeping -------------------------------------------------

    def _start(self, sel_id: S, item_id: I) -> None:
        self._items_of.setdefault(sel_id, set()).add(item_id)
        self._selectors_of.setdefault(item_id, set()).add(sel_id)
        self._on_started(sel_id, item_id)

    def _stop(self, sel_id: S, item_id: I) -> None:
        items = self._items_of[sel_id]
        items.discard(item_id)
        if not items:
            del self._items_of[sel_id]
        sels = self._selectors_of[item_id]
        sels.discard(sel_id)
        if not sels:
            del self._selectors_of[item_id]
        self._on_stopped(sel_id, item_id)
