"""The label inheritance index, including its candidate buckets, against brute force."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from calico.felix.calc._buckets import Placement, placement_of
from calico.felix.calc.labelindex import LabelIndex
from calico.selector import parse


class Recorder:
    def __init__(self) -> None:
        self.matches: set[tuple[str, str]] = set()
        self.index: LabelIndex[str, str] = LabelIndex(self.started, self.stopped)

    def started(self, sel: str, item: str) -> None:
        assert (sel, item) not in self.matches, "started twice"
        self.matches.add((sel, item))

    def stopped(self, sel: str, item: str) -> None:
        assert (sel, item) in self.matches, "stopped without start"
        self.matches.remove((sel, item))


def test_own_labels_win_then_profiles_in_order() -> None:
    r = Recorder()
    r.index.update_parent("prof-1", {"a": "prof-1-a", "c": "prof-1-c"})
    r.index.update_parent("prof-2", {"c": "prof-2-c", "d": "prof-2-d"})
    r.index.update_item("ep", {"a": "ep-a", "b": "ep-b"}, ["prof-1", "prof-2"])
    assert r.index.labels_of("ep") == {"a": "ep-a", "b": "ep-b", "c": "prof-1-c", "d": "prof-2-d"}


def test_matches_follow_item_parent_and_selector_changes() -> None:
    r = Recorder()
    r.index.update_selector("s", parse("env == 'prod'"))
    r.index.update_item("ep", {"app": "web"}, ["kns.ns1"])
    assert r.matches == set()
    r.index.update_parent("kns.ns1", {"env": "prod"})  # inherited label now matches
    assert r.matches == {("s", "ep")}
    r.index.update_item("ep", {"app": "web", "env": "dev"}, ["kns.ns1"])  # own label wins
    assert r.matches == set()
    r.index.update_selector("s", parse("app == 'web'"))
    assert r.matches == {("s", "ep")}
    assert set(r.index.items_matching("s")) == {"ep"}
    assert set(r.index.selectors_matching("ep")) == {"s"}
    r.index.delete_item("ep")
    assert r.matches == set()
    r.index.update_item("ep", {"app": "web"}, [])
    r.index.delete_selector("s")
    assert r.matches == set()


def test_parent_deleted_and_recreated() -> None:
    r = Recorder()
    r.index.update_item("ep", {}, ["p"])
    r.index.update_selector("s", parse("has(x)"))
    r.index.update_parent("p", {"x": "1"})
    assert r.matches == {("s", "ep")}
    r.index.delete_parent("p")
    assert r.matches == set()
    r.index.update_parent("p", {"x": "2"})
    assert r.matches == {("s", "ep")}


def test_placement_prefers_value_restrictions_outside_calico_labels() -> None:
    sel = parse("app == 'web' && projectcalico.org/namespace == 'ns1'")
    assert placement_of(sel) == Placement("value", "app", frozenset({"web"}))
    assert placement_of(parse("has(a) && b in {'x', 'y'}")) == Placement(
        "value", "b", frozenset({"x", "y"})
    )
    assert placement_of(parse("has(a)")) == Placement("present", "a")
    assert placement_of(parse("!has(a)")).kind == "any"
    assert placement_of(parse("all()")).kind == "any"
    assert placement_of(parse("a == 'x' && a == 'y'")).kind == "never"


LABEL_KEYS = st.sampled_from(["a", "b", "c"])
LABEL_VALUES = st.sampled_from(["1", "2"])
LABELS = st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=3)
SELECTORS = st.sampled_from(
    [
        "all()",
        "a == '1'",
        "a != '1'",
        "has(b)",
        "!has(b)",
        "a == '1' && b == '2'",
        "a == '1' || c == '2'",
        "a in {'1', '2'} && !has(c)",
        "b not in {'1'}",
        "a == '1' && a == '2'",
    ]
)
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("item"),
            st.sampled_from(["e1", "e2", "e3"]),
            LABELS,
            st.lists(st.sampled_from(["p1", "p2"])),
        ),
        st.tuples(st.just("del_item"), st.sampled_from(["e1", "e2", "e3"])),
        st.tuples(st.just("parent"), st.sampled_from(["p1", "p2"]), LABELS),
        st.tuples(st.just("del_parent"), st.sampled_from(["p1", "p2"])),
        st.tuples(st.just("sel"), st.sampled_from(["s1", "s2", "s3"]), SELECTORS),
        st.tuples(st.just("del_sel"), st.sampled_from(["s1", "s2", "s3"])),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_index_agrees_with_brute_force(ops: list[tuple[Any, ...]]) -> None:
    r = Recorder()
    items: dict[str, tuple[dict[str, str], list[str]]] = {}
    parents: dict[str, dict[str, str]] = {}
    selectors: dict[str, str] = {}
    for op in ops:
        match op:
            case ("item", item, labels, item_parents):
                items[item] = (labels, item_parents)
                r.index.update_item(item, labels, item_parents)
            case ("del_item", item):
                items.pop(item, None)
                r.index.delete_item(item)
            case ("parent", parent, labels):
                parents[parent] = labels
                r.index.update_parent(parent, labels)
            case ("del_parent", parent):
                parents.pop(parent, None)
                r.index.delete_parent(parent)
            case ("sel", sel_id, text):
                selectors[sel_id] = text
                r.index.update_selector(sel_id, parse(text))
            case ("del_sel", sel_id):
                selectors.pop(sel_id, None)
                r.index.delete_selector(sel_id)
    expected = set()
    for item, (own, item_parents) in items.items():
        effective: dict[str, str] = {}
        for parent in reversed(item_parents):
            effective.update(parents.get(parent, {}))
        effective.update(own)
        assert r.index.labels_of(item) == effective
        expected |= {(s, item) for s, text in selectors.items() if parse(text).evaluate(effective)}
    assert r.matches == expected
