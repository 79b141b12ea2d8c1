"""The syncer: a datastore snapshot, then a stream of changes, to felix.

The upstream contract of Calico's calc graph (``felix/design/calc-graph.md``):

* list every prefix, emit each KV as ``on_update(key, value)``, then
  ``on_in_sync()`` once; then watch from the listing revision + 1 and emit
  every change;
* a value is the parsed JSON, or None when the key is gone (or its value is
  not JSON): consumers treat every update as "latest value or deleted" and
  never rely on update types or ordering;
* when the watch fails (``CompactedError``: the revision we needed is gone;
  any other ``DatastoreError``: the stream broke), list again and emit only
  the difference: changed keys, and a deletion for every key that vanished
  while we were not watching.  Nothing is lost, nothing needs a restart.

The prefixes are listed one after another, so each has its own listing
revision; the watch covers their common prefix from the lowest of them and
skips any event a listing already reflected.  Prefixes must not overlap.

It runs in its own thread (``start`` / ``stop``) and calls the callbacks from
that thread: hand the updates to the calc graph's thread, e.g. via a queue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from calico.datastore import Datastore, EventType, WatchEvent
from calico.errors import CompactedError, DatastoreError

_log = logging.getLogger(__name__)


class SyncerCallbacks(Protocol):
    def on_update(self, key: str, value: dict[str, Any] | None) -> None: ...

    def on_in_sync(self) -> None: ...


class Syncer:
    def __init__(
        self,
        datastore: Datastore,
        prefixes: Sequence[str],
        callback: SyncerCallbacks,
        *,
        poll_interval: float = 0.5,
        retry_interval: float = 1.0,
    ) -> None:
        if not prefixes:
            raise ValueError("Syncer needs at least one prefix")
        self._datastore = datastore
        self._prefixes = list(prefixes)
        self._watch_prefix = _common_prefix(self._prefixes)
        self._callback = callback
        self._poll_interval = poll_interval
        self._retry_interval = retry_interval
        self._known: dict[str, int] = {}  # key -> mod revision emitted
        self._list_revisions: dict[str, int] = {}
        self._stopping = threading.Event()
        self._in_sync = threading.Event()
        self._thread: threading.Thread | None = None
        self.resync_count = 0  # re-lists after the first one
        self.listed_once = False

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("Syncer already started")
        self._thread = threading.Thread(target=self._run, name="felix-syncer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_in_sync(self, timeout: float | None = None) -> bool:
        return self._in_sync.wait(timeout)

    @property
    def in_sync(self) -> bool:
        return self._in_sync.is_set()

    # -- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                revision = self._resync()
                self._watch(revision + 1)
            except CompactedError as exc:
                _log.info("Watch revision compacted (%s); re-listing", exc)
            except DatastoreError as exc:
                _log.warning("Datastore error (%s); re-listing in %.1fs", exc, self._retry_interval)
                self._stopping.wait(self._retry_interval)

    def _resync(self) -> int:
        """List every prefix, emit the difference from what we sent; return
        the lowest listing revision."""
        if self.listed_once:
            self.resync_count += 1
        snapshot: dict[str, tuple[str, int]] = {}
        for prefix in self._prefixes:
            items, revision = self._datastore.list(prefix)
            self._list_revisions[prefix] = revision
            snapshot.update((kv.key, (kv.value, kv.mod_revision)) for kv in items)
        for key in [k for k in self._known if k not in snapshot]:
            del self._known[key]
            self._callback.on_update(key, None)
        for key, (value, mod_revision) in snapshot.items():
            if self._known.get(key) != mod_revision:
                self._known[key] = mod_revision
                self._callback.on_update(key, _parse(key, value))
        self.listed_once = True
        if not self._in_sync.is_set():
            self._in_sync.set()
            self._callback.on_in_sync()
        return min(self._list_revisions.values())

    def _watch(self, start_revision: int) -> None:
        with self._datastore.watch(self._watch_prefix, start_revision) as watcher:
            while not self._stopping.is_set():
                for event in watcher.get(self._poll_interval):
                    self._on_event(event)

    def _on_event(self, event: WatchEvent) -> None:
        prefix = next((p for p in self._prefixes if event.key.startswith(p)), None)
        if prefix is None or event.revision <= self._list_revisions[prefix]:
            return  # not ours, or already in the listing
        if event.type is EventType.DELETE:
            if self._known.pop(event.key, None) is not None:
                self._callback.on_update(event.key, None)
            return
        self._known[event.key] = event.revision
        self._callback.on_update(event.key, _parse(event.key, event.value))


def _common_prefix(prefixes: Sequence[str]) -> str:
    """The longest string every prefix starts with (character-wise, not by path)."""
    first, last = min(prefixes), max(prefixes)
    length = 0
    while length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    return first[:length]


def _parse(key: str, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        _log.warning("Ignoring %s: value is not JSON", key)
        return None
    if not isinstance(parsed, dict):
        _log.warning("Ignoring %s: value is not a JSON object", key)
        return None
    return parsed
