"""What only the sqlite backend has: a file shared by handles and processes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from calico.datastore import EventType
from calico.datastore.sqlite import SqliteDatastore
from calico.errors import CompactedError, DatastoreUnavailableError
from tests.unit.datastore._parallel import Barrier, run_in_processes
from tests.unit.datastore.test_contract import collect


def _put_keys(path: str, prefix: str, count: int) -> None:
    with SqliteDatastore(path) as store:
        for i in range(count):
            store.put(f"{prefix}{i}", str(i))


def _open_and_create(path: str, key: str, barrier: Barrier) -> int:
    barrier.wait(30)
    with SqliteDatastore(path) as store:
        return store.create(key, "v")


def test_two_handles_share_revisions_and_data(tmp_path: Path) -> None:
    path = str(tmp_path / "calico.db")
    with SqliteDatastore(path) as one, SqliteDatastore(path) as two:
        rev = one.create("/k", "from one")
        assert two.update("/k", "from two", rev) == rev + 1
        assert one.current_revision() == two.current_revision() == rev + 1
        with one.watch("/", rev) as watcher:
            events = collect(watcher, 2)
        assert [e.value for e in events] == ["from one", "from two"]


def test_watch_sees_writes_from_another_process(tmp_path: Path) -> None:
    path = str(tmp_path / "calico.db")
    with SqliteDatastore(path) as store, store.watch("/p/", 2) as watcher:
        writer = multiprocessing.get_context("spawn").Process(
            target=_put_keys, args=(path, "/p/", 3)
        )
        writer.start()
        events = collect(watcher, 3, timeout=30)
        writer.join(30)
    assert [(e.type, e.key, e.revision) for e in events] == [
        (EventType.PUT, f"/p/{i}", i + 2) for i in range(3)
    ]


def test_fresh_file_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh.db")
    revisions = run_in_processes(_open_and_create, [(path, f"/k/{i}") for i in range(8)])
    assert sorted(revisions) == list(range(2, 10))
    with SqliteDatastore(path) as store:
        assert len(store.list("/k/")[0]) == 8


def test_reopen_keeps_data_revision_and_compaction(tmp_path: Path) -> None:
    path = str(tmp_path / "calico.db")
    with SqliteDatastore(path) as store:
        first = store.create("/k", "1")
        point = store.put("/k", "2")
        store.put("/j", "1")
        store.compact(point)
        head = store.current_revision()
    with SqliteDatastore(path) as store:
        assert store.current_revision() == head
        kv = store.get("/k")
        assert kv is not None
        assert (kv.value, kv.create_revision) == ("2", first)
        with store.watch("/", point) as watcher, pytest.raises(CompactedError):
            watcher.get(timeout=1)
        assert store.put("/new", "v") == head + 1


def test_compaction_deletes_superseded_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "calico.db")
    with SqliteDatastore(path) as store:
        for i in range(10):
            store.put("/k", str(i))
        store.put("/gone", "x")
        store.delete("/gone")
        store.compact(store.current_revision())
        with sqlite3.connect(path) as raw:
            rows = raw.execute("SELECT key, value FROM kv ORDER BY revision").fetchall()
        assert rows == [("/k", "9")]
        assert store.current_revision() == 13


def test_unopenable_path_is_unavailable_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = str(blocker / "calico.db")
    with pytest.raises(DatastoreUnavailableError, match=r"a-file/calico\.db"):
        SqliteDatastore(path)


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(DatastoreUnavailableError, match=r"junk\.db"):
        SqliteDatastore(str(path))
