"""The datastore contract (calico.datastore._base), run on every backend.

memory is the reference; sqlite and etcd must behave identically.  etcd is
one server shared by the session, so these tests only use revisions they
observe (``store.current_revision()``), never absolute numbers, except where
``backend.shared_server`` is checked.
"""

from __future__ import annotations

import threading
import time

import pytest

from calico.datastore import Datastore, EventType, Watcher, WatchEvent
from calico.errors import AlreadyExistsError, CompactedError, ConflictError, NotFoundError
from tests.unit.datastore._parallel import cas_increment, cas_race
from tests.unit.datastore.conftest import Backend

PUT, DELETE = EventType.PUT, EventType.DELETE


def collect(watcher: Watcher, count: int, timeout: float = 5.0) -> list[WatchEvent]:
    """Exactly ``count`` events (fails on fewer within ``timeout``; extra ones are kept)."""
    events: list[WatchEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events.extend(watcher.get(timeout=max(0.0, deadline - time.monotonic())))
    assert len(events) >= count, f"only {len(events)} of {count} events arrived: {events}"
    return events


def assert_quiet(watcher: Watcher, wait: float = 0.2) -> None:
    assert watcher.get(timeout=wait) == []


def summary(events: list[WatchEvent]) -> list[tuple[str, str, str | None]]:
    return [(e.type.value, e.key, e.value) for e in events]


# -- basic KV operations -------------------------------------------------------


def test_every_write_bumps_the_revision_by_one(backend: Backend, store: Datastore) -> None:
    start = store.current_revision()
    if not backend.shared_server:
        assert start == 1  # an empty store is at revision 1, like etcd
    assert store.create("/t/a", "1") == start + 1
    assert store.put("/t/b", "2") == start + 2
    assert store.update("/t/a", "3", start + 1) == start + 3
    assert store.delete("/t/b") == start + 4
    assert store.current_revision() == start + 4


def test_get_returns_value_and_revisions(store: Datastore) -> None:
    assert store.get("/t/missing") is None
    created = store.create("/t/k", "one")
    kv = store.get("/t/k")
    assert kv is not None
    assert (kv.key, kv.value, kv.mod_revision, kv.create_revision) == (
        "/t/k",
        "one",
        created,
        created,
    )
    updated = store.update("/t/k", "two", created)
    replaced = store.put("/t/k", "three")
    kv = store.get("/t/k")
    assert kv is not None
    assert (kv.value, kv.mod_revision, kv.create_revision) == ("three", replaced, created)
    assert updated < replaced


def test_values_round_trip_exactly(store: Datastore) -> None:
    values = {"/t/empty": "", "/t/unicode/é☃": '{"名前": "ä\\n"}', "/t/nl": "a\nb\r\n"}
    for key, value in values.items():
        store.put(key, value)
    for key, value in values.items():
        kv = store.get(key)
        assert kv is not None
        assert kv.value == value
    assert {kv.key: kv.value for kv in store.list("/t/")[0]} == values


def test_create_of_live_key_raises_already_exists(store: Datastore) -> None:
    first = store.create("/t/k", "v")
    with pytest.raises(AlreadyExistsError) as info:
        store.create("/t/k", "other")
    assert info.value.key == "/t/k"
    kv = store.get("/t/k")
    assert kv is not None
    assert (kv.value, kv.mod_revision) == ("v", first)


def test_create_after_delete_starts_a_new_life(store: Datastore) -> None:
    store.create("/t/k", "v1")
    store.delete("/t/k")
    again = store.create("/t/k", "v2")
    kv = store.get("/t/k")
    assert kv is not None
    assert kv.create_revision == again == kv.mod_revision


def test_update_is_compare_and_swap(store: Datastore) -> None:
    rev = store.create("/t/k", "v1")
    new = store.update("/t/k", "v2", rev)
    with pytest.raises(ConflictError) as info:
        store.update("/t/k", "stale", rev)
    assert info.value.key == "/t/k"
    kv = store.get("/t/k")
    assert kv is not None
    assert (kv.value, kv.mod_revision) == ("v2", new)
    with pytest.raises(NotFoundError):
        store.update("/t/missing", "v", rev)


def test_delete_conditional_and_unconditional(store: Datastore) -> None:
    rev = store.create("/t/k", "v")
    with pytest.raises(ConflictError):
        store.delete("/t/k", rev - 1)
    assert store.delete("/t/k", rev) == rev + 1
    assert store.get("/t/k") is None
    with pytest.raises(NotFoundError):
        store.delete("/t/k")
    with pytest.raises(NotFoundError):
        store.delete("/t/k", rev)
    store.put("/t/j", "v")
    store.delete("/t/j")
    assert store.list("/t/") == ([], store.current_revision())


def test_put_without_ttl_on_missing_key_creates_it(store: Datastore) -> None:
    rev = store.put("/t/new", "v")
    kv = store.get("/t/new")
    assert kv is not None
    assert kv.create_revision == rev


# -- list ----------------------------------------------------------------------


def test_list_is_sorted_by_key_and_bounded_by_prefix(store: Datastore) -> None:
    for key in ["/p/b", "/p/a", "/p/c/d", "/pa", "/p", "/q/a", "/o"]:
        store.put(key, key)
    items, revision = store.list("/p/")
    assert [kv.key for kv in items] == ["/p/a", "/p/b", "/p/c/d"]
    assert revision == store.current_revision()
    assert [kv.key for kv in store.list("/p")[0]] == ["/p", "/p/a", "/p/b", "/p/c/d", "/pa"]
    assert store.list("/nothing/") == ([], revision)
    assert len(store.list("")[0]) == 7


def test_list_reports_each_keys_own_revisions(store: Datastore) -> None:
    a = store.create("/t/a", "1")
    b = store.create("/t/b", "1")
    a2 = store.update("/t/a", "2", a)
    items, revision = store.list("/t/")
    assert [(kv.key, kv.mod_revision, kv.create_revision) for kv in items] == [
        ("/t/a", a2, a),
        ("/t/b", b, b),
    ]
    assert revision == a2


# -- watch ---------------------------------------------------------------------


def test_list_then_watch_continues_without_gaps_or_duplicates(store: Datastore) -> None:
    for i in range(5):
        store.put(f"/s/{i}", f"v{i}")
    items, revision = store.list("/s/")
    store.put("/s/5", "v5")
    store.delete("/s/0")
    store.put("/s/1", "v1b")
    with store.watch("/s/", revision + 1) as watcher:
        events = collect(watcher, 3)
        assert_quiet(watcher)
    assert summary(events) == [
        ("put", "/s/5", "v5"),
        ("delete", "/s/0", None),
        ("put", "/s/1", "v1b"),
    ]
    # The syncer's view (snapshot + events) equals a fresh snapshot.
    state = {kv.key: kv.value for kv in items}
    for event in events:
        if event.type is DELETE:
            state.pop(event.key)
        else:
            state[event.key] = event.value or ""
    assert state == {kv.key: kv.value for kv in store.list("/s/")[0]}


def test_watch_delivers_every_event_in_revision_order(store: Datastore) -> None:
    start = store.current_revision() + 1
    with store.watch("/w/", start) as watcher:
        assert_quiet(watcher)
        revs = [store.put("/w/a", "1"), store.put("/other/x", "no"), store.put("/w/b", "2")]
        revs.append(store.delete("/w/a"))
        revs.append(store.put("/w", "not under /w/"))
        events = collect(watcher, 3)
        assert_quiet(watcher)
    assert [e.revision for e in events] == [revs[0], revs[2], revs[3]]
    assert summary(events) == [("put", "/w/a", "1"), ("put", "/w/b", "2"), ("delete", "/w/a", None)]


def test_watch_wakes_a_blocked_reader(store: Datastore) -> None:
    with store.watch("/w/", store.current_revision() + 1) as watcher:
        timer = threading.Timer(0.1, store.put, args=("/w/late", "v"))
        timer.start()
        began = time.monotonic()
        events = watcher.get(timeout=5)
        timer.join()
    assert summary(events) == [("put", "/w/late", "v")]
    assert time.monotonic() - began < 2


def test_close_wakes_a_blocked_get(store: Datastore) -> None:
    watcher = store.watch("/w/", store.current_revision() + 1)
    results: list[list[WatchEvent]] = []
    reader = threading.Thread(target=lambda: results.append(watcher.get(None)))
    reader.start()
    time.sleep(0.1)
    watcher.close()
    reader.join(timeout=3)
    assert not reader.is_alive()
    assert results == [[]]


def test_watch_from_an_old_revision_replays_history(store: Datastore) -> None:
    first = store.create("/h/k", "1")
    store.update("/h/k", "2", first)
    store.delete("/h/k")
    store.create("/h/k", "3")
    with store.watch("/h/", first) as watcher:
        events = collect(watcher, 4)
    assert summary(events) == [
        ("put", "/h/k", "1"),
        ("put", "/h/k", "2"),
        ("delete", "/h/k", None),
        ("put", "/h/k", "3"),
    ]
    assert [e.revision for e in events] == list(range(first, first + 4))


def test_watcher_restart_from_saved_revision_misses_nothing(store: Datastore) -> None:
    start = store.current_revision() + 1
    seen: list[WatchEvent] = []
    resume = start
    for round_ in range(3):
        with store.watch("/r/", resume) as watcher:
            for i in range(3):
                store.put(f"/r/{i % 2}", f"{round_}.{i}")
            seen.extend(collect(watcher, 3 if round_ == 0 else 4))
        resume = seen[-1].revision + 1  # what a restarting syncer saves
        store.put("/r/gap", f"written while no watcher ran ({round_})")
    with store.watch("/r/", resume) as watcher:
        seen.extend(collect(watcher, 1))
    with store.watch("/r/", start) as watcher:
        everything = collect(watcher, 12)
    assert len(seen) == 12
    assert summary(seen) == summary(everything)
    assert [e.revision for e in seen] == [e.revision for e in everything]


# -- compaction ----------------------------------------------------------------


def test_compaction_raises_compacted_then_relist_recovers(store: Datastore) -> None:
    first = store.create("/c/a", "1")
    store.put("/c/a", "2")
    store.put("/c/b", "1")
    point = store.put("/c/a", "3")
    store.put("/c/c", "1")
    store.compact(point)
    with store.watch("/c/", first) as old, pytest.raises(CompactedError) as info:
        old.get(timeout=5)
    assert info.value.compact_revision >= first
    with store.watch("/c/", point) as at_point, pytest.raises(CompactedError):
        at_point.get(timeout=5)
    # Recovery, as the syncer does it: re-list, then watch from the list revision.
    items, revision = store.list("/c/")
    assert {kv.key: kv.value for kv in items} == {"/c/a": "3", "/c/b": "1", "/c/c": "1"}
    with store.watch("/c/", revision + 1) as watcher:
        store.put("/c/d", "new")
        assert summary(collect(watcher, 1)) == [("put", "/c/d", "new")]


def test_compaction_keeps_live_state_and_later_history(store: Datastore) -> None:
    a = store.create("/c/a", "1")
    store.create("/c/gone", "x")
    store.delete("/c/gone")
    point = store.update("/c/a", "2", a)
    after = store.put("/c/b", "1")
    before = store.list("/c/")
    store.compact(point)
    assert store.list("/c/") == before
    kv = store.get("/c/a")
    assert kv is not None
    assert (kv.mod_revision, kv.create_revision) == (point, a)
    with store.watch("/c/", point + 1) as watcher:
        assert summary(collect(watcher, 1)) == [("put", "/c/b", "1")]
    assert store.update("/c/a", "3", point) > after
    store.compact(point)  # compacting again at or below the point is a no-op
    assert store.create("/c/gone", "back") > after


# -- TTL -----------------------------------------------------------------------


def test_ttl_expiry_produces_a_delete_event(store: Datastore) -> None:
    start = store.current_revision() + 1
    store.put("/ttl/status", "alive", ttl=1)
    store.put("/ttl/kept", "alive", ttl=1)
    store.put("/ttl/kept", "renewed without ttl")  # a plain put drops the lease
    with store.watch("/ttl/", start) as watcher:
        events = collect(watcher, 4, timeout=8)  # etcd rounds TTLs up to 2 s
    assert summary(events)[3] == ("delete", "/ttl/status", None)
    assert store.get("/ttl/status") is None
    assert [kv.key for kv in store.list("/ttl/")[0]] == ["/ttl/kept"]


# -- concurrency ---------------------------------------------------------------


def test_concurrent_compare_and_swap_has_exactly_one_winner(backend: Backend) -> None:
    rev = backend.store.create("/cas/k", "initial")
    workers = 8
    args = [(backend.opener, "/cas/k", rev, f"w{i}") for i in range(workers)]
    outcomes = backend.run_parallel(cas_race, args)
    assert sorted(outcomes) == ["conflict"] * (workers - 1) + ["won"]
    winner = outcomes.index("won")
    kv = backend.store.get("/cas/k")
    assert kv is not None
    assert (kv.value, kv.mod_revision) == (f"w{winner}", rev + 1)


def test_counter_incremented_by_cas_retry_loops_is_exact(backend: Backend) -> None:
    backend.store.create("/cas/counter", "0")
    workers, each = 4, 25
    args = [(backend.opener, "/cas/counter", each) for _ in range(workers)]
    backend.run_parallel(cas_increment, args)
    kv = backend.store.get("/cas/counter")
    assert kv is not None
    assert kv.value == str(workers * each)
    with backend.store.watch("/cas/", kv.create_revision) as watcher:
        events = collect(watcher, workers * each + 1)
    assert [e.value for e in events] == [str(n) for n in range(workers * each + 1)]
