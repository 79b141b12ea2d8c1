"""The syncer against the in-memory datastore: snapshot, watch, and recovery by re-listing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from calico.datastore import MemoryDatastore, Watcher, WatchEvent
from calico.errors import DatastoreError
from calico.felix.syncer import Syncer

RES = "/calico/resources/v3/projectcalico.org/"
IPAM = "/calico/ipam/v2/assignment/"


class Recorder:
    """Thread-safe callback: the latest value per key, plus every call."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        self.in_sync_calls = 0
        self._cond = threading.Condition()

    def on_update(self, key: str, value: dict[str, Any] | None) -> None:
        with self._cond:
            self.calls.append((key, value))
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
            self._cond.notify_all()

    def on_in_sync(self) -> None:
        with self._cond:
            self.in_sync_calls += 1
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        # Poll as well as wait: some conditions (resync_count) change without a callback.
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                assert time.monotonic() < deadline, f"timed out; state={self.state}"
                self._cond.wait(0.02)


class GatedDatastore(MemoryDatastore):
    """A memory datastore whose watchers can be paused (as if the connection
    stalled) or made to fail once."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = threading.Event()
        self.fail_next_get = False

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        return _GatedWatcher(self, super().watch(prefix, start_revision))


class _GatedWatcher(Watcher):
    def __init__(self, store: GatedDatastore, inner: Watcher) -> None:
        self._store = store
        self._inner = inner

    def get(self, timeout: float | None = None) -> list[WatchEvent]:
        if self._store.paused.is_set():
            time.sleep(0.01)
            return []
        if self._store.fail_next_get:
            self._store.fail_next_get = False
            raise DatastoreError("watch stream broke")
        return self._inner.get(timeout)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def store() -> GatedDatastore:
    return GatedDatastore()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def syncer(store: GatedDatastore, recorder: Recorder) -> Iterator[Syncer]:
    s = Syncer(store, [RES, IPAM], recorder, poll_interval=0.05, retry_interval=0.05)
    yield s
    s.stop()


def put(store: MemoryDatastore, key: str, value: Any) -> None:
    store.put(key, json.dumps(value))


def expected(store: MemoryDatastore) -> dict[str, Any]:
    items, _ = store.list("/calico/")
    return {kv.key: json.loads(kv.value) for kv in items if kv.key.startswith((RES, IPAM))}


def test_snapshot_then_in_sync_then_watch(
    store: GatedDatastore, recorder: Recorder, syncer: Syncer
) -> None:
    put(store, RES + "tiers/t1", {"spec": {"order": 1}})
    put(store, IPAM + "ipv4/block/10.0.0.0-26", {"cidr": "10.0.0.0/26"})
    put(store, "/calico/felix/v2/no-region/host/h1/status", {"uptime": 1})  # not ours
    syncer.start()
    assert syncer.wait_in_sync(5)
    recorder.wait_for(lambda: recorder.in_sync_calls == 1)
    # The snapshot was complete before InSync.
    assert dict(recorder.calls) == expected(store)
    put(store, RES + "tiers/t2", {"spec": {}})
    store.delete(RES + "tiers/t1")
    put(store, "/calico/felix/v2/no-region/host/h1/status", {"uptime": 2})
    recorder.wait_for(lambda: recorder.state == expected(store))
    assert recorder.calls[-2:] == [(RES + "tiers/t2", {"spec": {}}), (RES + "tiers/t1", None)]
    assert syncer.resync_count == 0
    assert recorder.in_sync_calls == 1


def test_compaction_recovery_emits_only_the_difference(
    store: GatedDatastore, recorder: Recorder, syncer: Syncer
) -> None:
    for name in ("a", "b", "c"):
        put(store, RES + f"profiles/{name}", {"spec": {"v": 1}})
    syncer.start()
    recorder.wait_for(lambda: recorder.state == expected(store))
    store.paused.set()  # the watch stalls while the store moves on...
    time.sleep(0.1)
    store.delete(RES + "profiles/a")
    put(store, RES + "profiles/b", {"spec": {"v": 2}})
    put(store, RES + "profiles/d", {"spec": {"v": 1}})
    store.delete(RES + "profiles/d")
    store.compact(store.current_revision())  # ...and forgets the history we missed
    recorder.calls.clear()
    store.paused.clear()
    recorder.wait_for(lambda: recorder.state == expected(store) and syncer.resync_count == 1)
    # Only what changed: a deleted, b updated; c untouched, d never seen.
    assert sorted(recorder.calls, key=str) == [
        (RES + "profiles/a", None),
        (RES + "profiles/b", {"spec": {"v": 2}}),
    ]
    assert recorder.in_sync_calls == 1
    # And the watch continues from the new listing.
    put(store, RES + "profiles/e", {"spec": {}})
    recorder.wait_for(lambda: recorder.state == expected(store))


def test_broken_watch_relists(store: GatedDatastore, recorder: Recorder, syncer: Syncer) -> None:
    put(store, RES + "profiles/a", {"spec": {}})
    syncer.start()
    recorder.wait_for(lambda: recorder.state == expected(store))
    store.fail_next_get = True
    put(store, RES + "profiles/b", {"spec": {}})
    recorder.wait_for(lambda: recorder.state == expected(store) and syncer.resync_count >= 1)


def test_values_that_are_not_json_objects_are_deletions(
    store: GatedDatastore, recorder: Recorder, syncer: Syncer
) -> None:
    store.put(RES + "profiles/bad", "{not json")
    store.put(RES + "profiles/list", "[1, 2]")
    syncer.start()
    recorder.wait_for(lambda: recorder.in_sync_calls == 1)
    assert (RES + "profiles/bad", None) in recorder.calls
    assert (RES + "profiles/list", None) in recorder.calls


def test_needs_a_prefix(store: GatedDatastore, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="prefix"):
        Syncer(store, [], recorder)
