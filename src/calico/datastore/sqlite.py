"""SQLite datastore: the k3s "kine" log-structured revision table.

Every write appends one row to ``kv``; the row's id *is* the store revision,
so history, watches and compare-and-swap all fall out of one table:

* ``revision INTEGER PRIMARY KEY AUTOINCREMENT``: AUTOINCREMENT (not plain
  rowid) because ids must never be reused after compaction deletes the top
  rows, and because ``sqlite_sequence`` then holds the store revision even
  when every row has been compacted away.  We seed it to 1 so that an empty
  store is at revision 1 and the first write is revision 2, as in etcd.
* ``prev_revision`` is the revision of the key's previous row (0 for none)
  and ``UNIQUE(key, prev_revision)`` makes a second writer that read the same
  predecessor fail: compare-and-swap enforced by the schema itself.
* ``deleted`` rows are tombstones; the latest row of a key says whether the
  key is live.  ``expires_at`` (wall-clock seconds, shared by all processes)
  is set only on the latest row of a key with a TTL; whoever notices it has
  passed appends the tombstone, which is what produces the delete event.

Concurrency: WAL mode lets readers run beside one writer; every write is a
``BEGIN IMMEDIATE`` transaction, so writers queue on the file lock (with
``busy_timeout``) instead of failing on upgrade.  That makes the store safe
for many processes on one machine.  Within a process one connection is
shared under a lock.  Watches poll for rows above the last seen revision
every ``POLL_INTERVAL`` seconds, and are woken at once by writes made
through any SqliteDatastore on the same file in the same process.

Open a new SqliteDatastore in each process: sqlite connections must not
cross ``fork()``.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator

from calico.datastore import _sqlite_sql as sql
from calico.datastore._base import KV, Datastore, EventType, Watcher, WatchEvent
from calico.datastore._sqlite_watch import PollingWatcher, notifier_for
from calico.errors import (
    AlreadyExistsError,
    CompactedError,
    ConflictError,
    DatastoreError,
    DatastoreUnavailableError,
    NotFoundError,
)

# Cross-process watch latency is bounded by this; each poll is one indexed
# query, so 20 ms costs ~50 cheap queries per second per idle watcher.
POLL_INTERVAL = 0.02
# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 30_000

# Errors a caller caused: the transaction is still committed so that expiry
# tombstones appended by the same transaction are kept (the op wrote nothing).
_REFUSALS = (AlreadyExistsError, ConflictError, NotFoundError)


class SqliteDatastore(Datastore):
    """The datastore contract over one sqlite file; see the module docstring."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._notifier = notifier_for(path)
        self._conn = self._open(path)

    # -- reads ------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        self._expire()
        with self._locked() as conn:
            row = conn.execute(sql.LATEST_ROW, (key,)).fetchone()
        return _live_kv(key, row)

    def list(self, prefix: str) -> tuple[builtins.list[KV], int]:
        self._expire()
        lo, hi = prefix, sql.prefix_upper_bound(prefix)
        with self._read_txn() as conn:
            rows = conn.execute(sql.list_latest_rows(hi is not None), _bounds(lo, hi)).fetchall()
            revision = _store_revision(conn)
        items = [
            KV(key, value, revision_, create_revision)
            for key, value, revision_, create_revision, deleted in rows
            if not deleted and key.startswith(prefix)
        ]
        return items, revision

    def current_revision(self) -> int:
        self._expire()
        with self._locked() as conn:
            return _store_revision(conn)

    # -- writes -----------------------------------------------------------
    def create(self, key: str, value: str, *, ttl: int | None = None) -> int:
        with self._write_txn() as conn:
            prev = _latest(conn, key)
            if prev is not None and not prev.deleted:
                raise AlreadyExistsError(f"key already exists: {key}", key=key)
            return _append(conn, key, value, prev, ttl)

    def update(self, key: str, value: str, expected_revision: int) -> int:
        with self._write_txn() as conn:
            prev = _live_or_raise(conn, key, expected_revision)
            return _append(conn, key, value, prev, None)

    def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
        with self._write_txn() as conn:
            return _append(conn, key, value, _latest(conn, key), ttl)

    def delete(self, key: str, expected_revision: int | None = None) -> int:
        with self._write_txn() as conn:
            prev = _live_or_raise(conn, key, expected_revision)
            return _append(conn, key, None, prev, None)

    def compact(self, revision: int) -> None:
        with self._write_txn() as conn:
            target = min(revision, _store_revision(conn))
            if target <= _compact_revision(conn):
                return
            # Predecessors first (their successors' prev_revision links are
            # needed to find them), then the tombstones themselves.
            conn.execute(sql.DELETE_SUPERSEDED, (target,))
            conn.execute(sql.DELETE_TOMBSTONES, (target,))
            conn.execute(sql.SET_COMPACT_REVISION, (target,))

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        def poll(revision: int) -> builtins.list[WatchEvent]:
            self._expire()
            return self._events_since(prefix, revision)

        return PollingWatcher(poll, self._notifier, start_revision, POLL_INTERVAL)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- plumbing ---------------------------------------------------------
    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so that
            # writes can take the lock up front with BEGIN IMMEDIATE.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _retry_locked(conn, "PRAGMA journal_mode = WAL")
            # NORMAL is safe with WAL (no corruption); a power cut may lose
            # the last commits, but never a half-applied one.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(sql.SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            raise DatastoreUnavailableError(f"cannot open sqlite datastore {path}: {exc}") from exc
        return conn

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise _map_error(self.path, exc) from exc

    @contextlib.contextmanager
    def _read_txn(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs (WAL read transaction)."""
        with self._locked() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    @contextlib.contextmanager
    def _write_txn(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _expire_locked(conn)
                yield conn
            except _REFUSALS:
                conn.execute("COMMIT")
                raise
            except BaseException:
                if conn.in_transaction:  # some errors have rolled back already
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._notifier.notify()

    def _expire(self) -> None:
        """Append tombstones for expired keys; cheap read-only check first."""
        with self._locked() as conn:
            due = conn.execute(sql.ANY_EXPIRED, (time.time(),)).fetchone()
        if due:
            with self._write_txn():
                pass  # _write_txn expires under the write lock

    def _events_since(self, prefix: str, revision: int) -> builtins.list[WatchEvent]:
        hi = sql.prefix_upper_bound(prefix)
        with self._read_txn() as conn:
            compacted = _compact_revision(conn)
            if revision <= compacted:
                raise CompactedError(
                    f"revision {revision} has been compacted (compaction at {compacted})",
                    revision=revision,
                    compact_revision=compacted,
                )
            params = (revision, *_bounds(prefix, hi))
            rows = conn.execute(sql.rows_since(hi is not None), params).fetchall()
        return [
            WatchEvent(EventType.DELETE if deleted else EventType.PUT, key, value, rev)
            for rev, key, deleted, value in rows
            if key.startswith(prefix)
        ]


class _Row:
    """The latest row of one key, as read inside a write transaction."""

    __slots__ = ("create_revision", "deleted", "revision")

    def __init__(self, revision: int, deleted: bool, create_revision: int) -> None:
        self.revision = revision
        self.deleted = deleted
        self.create_revision = create_revision


def _latest(conn: sqlite3.Connection, key: str) -> _Row | None:
    row = conn.execute(sql.LATEST_ROW, (key,)).fetchone()
    if row is None:
        return None
    revision, deleted, create_revision, _value = row
    return _Row(revision, bool(deleted), create_revision)


def _live_or_raise(conn: sqlite3.Connection, key: str, expected_revision: int | None) -> _Row:
    prev = _latest(conn, key)
    if prev is None or prev.deleted:
        raise NotFoundError(f"key not found: {key}", key=key)
    if expected_revision is not None and prev.revision != expected_revision:
        raise ConflictError(
            f"revision conflict on {key}: expected {expected_revision}, found {prev.revision}",
            key=key,
        )
    return prev


def _append(
    conn: sqlite3.Connection, key: str, value: str | None, prev: _Row | None, ttl: int | None
) -> int:
    """Append a put (value) or tombstone (None) row after ``prev``; the new revision.

    The write lock is held (BEGIN IMMEDIATE), so the next AUTOINCREMENT id is
    exactly the stored sequence plus one; inserting it explicitly lets the
    row carry its own create_revision without a second statement.
    """
    revision = _store_revision(conn) + 1
    created = prev is None or prev.deleted
    create_revision = revision if prev is None or prev.deleted else prev.create_revision
    prev_revision = prev.revision if prev is not None else 0
    expires_at = time.time() + ttl if ttl and value is not None else None
    row = (revision, key, created, value is None, create_revision, prev_revision, value, expires_at)
    try:
        conn.execute(sql.INSERT_ROW, row)
    except sqlite3.IntegrityError as exc:
        # UNIQUE(key, prev_revision): another writer appended after prev first.
        raise ConflictError(f"revision conflict on {key}: concurrent write", key=key) from exc
    if prev is not None:
        # Only a key's latest row may carry an expiry (keeps the index small).
        conn.execute(sql.CLEAR_EXPIRY, (prev.revision,))
    return revision


def _expire_locked(conn: sqlite3.Connection) -> None:
    # fetchall first: appending changes the index the SELECT would be walking.
    expired = conn.execute(sql.EXPIRED_ROWS, (time.time(),)).fetchall()
    for revision, key, create_revision in expired:
        _append(conn, key, None, _Row(revision, False, create_revision), None)


def _live_kv(key: str, row: tuple[int, int, int, str | None] | None) -> KV | None:
    if row is None:
        return None
    revision, deleted, create_revision, value = row
    if deleted or value is None:
        return None
    return KV(key, value, revision, create_revision)


def _store_revision(conn: sqlite3.Connection) -> int:
    return int(conn.execute(sql.STORE_REVISION).fetchone()[0])


def _compact_revision(conn: sqlite3.Connection) -> int:
    return int(conn.execute(sql.COMPACT_REVISION).fetchone()[0])


def _bounds(lo: str, hi: str | None) -> tuple[str, ...]:
    return (lo,) if hi is None else (lo, hi)


def _map_error(path: str, exc: sqlite3.Error) -> DatastoreError:
    if isinstance(exc, sqlite3.OperationalError):
        return DatastoreUnavailableError(f"sqlite datastore {path}: {exc}")
    return DatastoreError(f"sqlite datastore {path}: {exc}")


def _retry_locked(conn: sqlite3.Connection, statement: str) -> None:
    """Run ``statement`` until it stops failing with "database is locked".

    Switching to WAL needs an exclusive lock and does not use the busy
    handler, so processes opening a fresh file together may collide here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
