"""The calc graph's output depends only on the datastore's current contents.

In the spirit of Calico's calc-graph FV suite (``calc_graph_fv_test.go``),
which replays each sequence of datastore states with ``reverseKVOrder``,
``reverseStateOrder``, ``insertEmpties``, ``splitStates`` and
``squashStates``: however the same KVs arrive (any order, any interleaving
of stale values and spurious deletes, flushed at any points, through any
sequence of intermediate states), the recording dataplane must end in
exactly the state computed from scratch for the final datastore.  And every
flush must keep the dataplane contract (the recording dataplane checks it
on every message).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calico.felix.calc.graph import CalcGraph
from calico.felix.recording import DataplaneState, RecordingDataplane
from tests.unit.felix.cluster_states import ME, STATES, State

Update = tuple[str, dict[str, Any] | None]


def transition(current: State, target: State) -> list[Update]:
    """The KVs that take the datastore from ``current`` to ``target``, in key order."""
    updates: list[Update] = [(k, v) for k, v in sorted(target.items()) if current.get(k) != v]
    updates += [(k, None) for k in sorted(current) if k not in target]
    return updates


@functools.cache
def from_scratch(name: str) -> DataplaneState:
    graph, dataplane = CalcGraph(ME), RecordingDataplane()
    for key, value in sorted(STATES[name].items()):
        graph.on_update(key, value)
    graph.on_in_sync()
    dataplane.apply(graph.flush())
    return dataplane.state()


def replay(path: list[str], order: str = "forward") -> RecordingDataplane:
    """Apply each state of the path in turn, KVs in the given order, flushing per state."""
    graph, dataplane = CalcGraph(ME), RecordingDataplane()
    current: State = {}
    for index, name in enumerate(path):
        updates = transition(current, STATES[name])
        if order == "reverse":
            updates.reverse()
        for key, value in updates:
            graph.on_update(key, value)
        if index == 0:
            graph.on_in_sync()
        dataplane.apply(graph.flush())
        current = STATES[name]
    return dataplane


def test_states_are_not_trivial() -> None:
    full = from_scratch("full")
    assert len(full.ipsets) >= 8
    assert len(full.policies) >= 6
    assert len(full.workload_endpoints) == 3
    assert len(full.host_endpoints) == 1
    assert len(full.routes) >= 4
    assert len(full.vteps) == 3
    assert from_scratch("empty") == DataplaneState(config={}, in_sync=True)
    assert len({repr(from_scratch(name)) for name in STATES}) == len(STATES)


PAIRS = [(a, b) for a in STATES for b in STATES if a != b]


@pytest.mark.parametrize(("start", "end"), PAIRS)
@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_every_transition_in_both_kv_orders(start: str, end: str, order: str) -> None:
    assert replay([start, end], order).state() == from_scratch(end)


@pytest.mark.parametrize("end", list(STATES))
def test_via_empty_and_back(end: str) -> None:
    # insertEmpties: tear everything down in between, then build it up again.
    assert replay(["full", "empty", end]).state() == from_scratch(end)
    assert replay([end, "empty"]).state() == from_scratch("empty")


def test_all_states_in_sequence_and_reversed() -> None:
    names = list(STATES)
    assert replay(names).state() == from_scratch(names[-1])
    assert replay(names[::-1]).state() == from_scratch(names[0])


def _churned(data: st.DataObject, updates: list[Update]) -> list[Update]:
    """Shuffle, then sprinkle stale values and spurious deletes before the real
    value of some keys: only the last value of each key may matter."""
    updates = data.draw(st.permutations(updates))
    churned: list[Update] = []
    for key, value in updates:
        stale = [None] + [s[key] for s in STATES.values() if key in s]
        noise = data.draw(st.lists(st.sampled_from(stale), max_size=2))
        churned.extend((key, v) for v in noise)
        churned.append((key, value))
    return churned


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.sampled_from(sorted(STATES)), min_size=1, max_size=4), data=st.data())
def test_any_path_any_order_any_flush_points(path: list[str], data: st.DataObject) -> None:
    graph, dataplane = CalcGraph(ME), RecordingDataplane()
    current: State = {}
    in_sync_at = data.draw(st.integers(0, len(path) - 1))
    for index, name in enumerate(path):
        updates = _churned(data, transition(current, STATES[name]))
        flushes = data.draw(st.lists(st.booleans(), min_size=len(updates), max_size=len(updates)))
        for (key, value), flush in zip(updates, flushes, strict=True):
            graph.on_update(key, value)
            if flush:
                dataplane.apply(graph.flush())
        if index == in_sync_at:
            graph.on_in_sync()
        dataplane.apply(graph.flush())
        current = STATES[name]
    assert dataplane.state() == from_scratch(path[-1])


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(STATES)), data=st.data())
def test_squashed_with_duplicates(name: str, data: st.DataObject) -> None:
    """squashStates: the final state's KVs all at once, some delivered twice."""
    updates = transition({}, STATES[name])
    doubled = updates + data.draw(st.lists(st.sampled_from(updates), max_size=5)) if updates else []
    graph, dataplane = CalcGraph(ME), RecordingDataplane()
    for key, value in data.draw(st.permutations(doubled)):
        graph.on_update(key, value)
    graph.on_in_sync()
    dataplane.apply(graph.flush())
    assert dataplane.state() == from_scratch(name)
    graph.on_in_sync()
    assert graph.flush() == []  # nothing left over, InSync only once
