"""In-memory datastore for unit tests: the reference implementation of the contract.

Thread-safe (one lock + condition).  History is kept as an event log so that
watches can start from any uncompacted revision, exactly like etcd.
"""

from __future__ import annotations

import builtins
import threading
import time
from dataclasses import dataclass

from calico.datastore._base import KV, Datastore, EventType, Watcher, WatchEvent
from calico.errors import AlreadyExistsError, CompactedError, ConflictError, NotFoundError


@dataclass(slots=True)
class _Entry:
    kv: KV
    expires_at: float | None


class MemoryDatastore(Datastore):
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._data: dict[str, _Entry] = {}
        self._log: list[WatchEvent] = []
        self._revision = 1
        self._compacted = 0

    # -- reads ------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        with self._lock:
            self._expire()
            entry = self._data.get(key)
            return entry.kv if entry else None

    def list(self, prefix: str) -> tuple[builtins.list[KV], int]:
        with self._lock:
            self._expire()
            items = [e.kv for k, e in self._data.items() if k.startswith(prefix)]
            items.sort(key=lambda kv: kv.key)
            return items, self._revision

    def current_revision(self) -> int:
        with self._lock:
            self._expire()
            return self._revision

    # -- writes -----------------------------------------------------------
    def create(self, key: str, value: str, *, ttl: int | None = None) -> int:
        with self._lock:
            self._expire()
            if key in self._data:
                raise AlreadyExistsError(f"key already exists: {key}", key=key)
            return self._write(key, value, None, ttl)

    def update(self, key: str, value: str, expected_revision: int) -> int:
        with self._lock:
            self._expire()
            entry = self._data.get(key)
            if entry is None:
                raise NotFoundError(f"key not found: {key}", key=key)
            if entry.kv.mod_revision != expected_revision:
                raise ConflictError(
                    f"revision conflict on {key}: expected {expected_revision}, "
                    f"found {entry.kv.mod_revision}",
                    key=key,
                )
            return self._write(key, value, entry, None)

    def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
        with self._lock:
            self._expire()
            return self._write(key, value, self._data.get(key), ttl)

    def delete(self, key: str, expected_revision: int | None = None) -> int:
        with self._lock:
            self._expire()
            entry = self._data.get(key)
            if entry is None:
                raise NotFoundError(f"key not found: {key}", key=key)
            if expected_revision is not None and entry.kv.mod_revision != expected_revision:
                raise ConflictError(
                    f"revision conflict on {key}: expected {expected_revision}, "
                    f"found {entry.kv.mod_revision}",
                    key=key,
                )
            return self._remove(key)

    def compact(self, revision: int) -> None:
        with self._lock:
            self._compacted = max(self._compacted, min(revision, self._revision))
            self._log = [e for e in self._log if e.revision >= self._compacted]

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        return _MemoryWatcher(self, prefix, start_revision)

    # -- internals (lock held) -------------------------------------------
    def _write(self, key: str, value: str, old: _Entry | None, ttl: int | None) -> int:
        self._revision += 1
        created = old.kv.create_revision if old else self._revision
        expires = time.monotonic() + ttl if ttl else None
        self._data[key] = _Entry(KV(key, value, self._revision, created), expires)
        self._log.append(WatchEvent(EventType.PUT, key, value, self._revision))
        self._lock.notify_all()
        return self._revision

    def _remove(self, key: str) -> int:
        self._revision += 1
        del self._data[key]
        self._log.append(WatchEvent(EventType.DELETE, key, None, self._revision))
        self._lock.notify_all()
        return self._revision

    def _expire(self) -> None:
        now = time.monotonic()
        dead = [k for k, e in self._data.items() if e.expires_at and e.expires_at <= now]
        for key in dead:
            self._remove(key)

    def _events_since(self, prefix: str, revision: int) -> builtins.list[WatchEvent]:
        if revision <= self._compacted:
            raise CompactedError(
                f"revision {revision} has been compacted (compaction at {self._compacted})",
                revision=revision,
                compact_revision=self._compacted,
            )
        return [e for e in self._log if e.revision >= revision and e.key.startswith(prefix)]


class _MemoryWatcher(Watcher):
    def __init__(self, store: MemoryDatastore, prefix: str, start_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._next = start_revision
        self._closed = False

    def get(self, timeout: float | None = None) -> list[WatchEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._store._lock
        with cond:
            while not self._closed:
                self._store._expire()
                events = self._store._events_since(self._prefix, self._next)
                if events:
                    self._next = events[-1].revision + 1
                    return events
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            return []

    def close(self) -> None:
        self._closed = True
