"""etcd watch over the JSON gateway, with compaction reported instead of swallowed.

``POST /v3/watch`` with a ``create_request`` answers with a never-ending
HTTP response: one JSON object per line, ``{"result": WatchResponse}`` or
``{"error": ...}``.  etcd3gw's reader only looks at ``created`` and
``events``, so when the start revision has been compacted etcd's reply
(``{"canceled": true, "compact_revision": "N"}``) vanishes and the watch
just goes quiet (networking-calico works around it with an inactivity
timeout).  Here a reader thread parses every line and turns:

* events into WatchEvents, queued for ``get``;
* ``compact_revision`` into CompactedError, any other cancel or an ``error``
  line into DatastoreError, and a broken or ended stream into
  DatastoreUnavailableError; the first of these ends the watch and is
  raised by every later ``get`` (after the events that preceded it).

A thread blocked in ``recv`` is not woken by closing the response from
another thread, so ``close`` shuts the socket down underneath it.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from typing import Any

import requests

from calico.datastore._base import EventType, Watcher, WatchEvent
from calico.datastore._etcd_http import EtcdHttp, b64, prefix_range, unb64
from calico.errors import CompactedError, DatastoreError, DatastoreUnavailableError

_Item = list[WatchEvent] | DatastoreError


class EtcdWatcher(Watcher):
    def __init__(self, http: EtcdHttp, prefix: str, start_revision: int) -> None:
        self._prefix = prefix
        self._stream_next = start_revision  # next revision the stream may deliver
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._error: DatastoreError | None = None
        self._closed = threading.Event()
        self._session = http.new_session()
        self._response: requests.Response | None = None
        if start_revision < 1:
            # etcd reads 0 as "from now"; the contract treats it as history
            # that no longer exists, like every revision below the first.
            self._error = _compacted(start_revision, 0)
            return
        self._response = self._open(http, prefix, start_revision)
        self._thread = threading.Thread(target=self._read, name=f"etcd-watch {prefix}", daemon=True)
        self._thread.start()

    def _open(self, http: EtcdHttp, prefix: str, start_revision: int) -> requests.Response:
        key, end = prefix_range(prefix)
        request = {
            "create_request": {
                "key": b64(key),
                "range_end": b64(end),
                "start_revision": start_revision,
            }
        }
        try:
            response = http.send("watch", request, idempotent=True, session=self._session)
        except DatastoreError:
            self._session.close()
            raise
        if response.status_code != 200:
            text = response.text.strip()
            response.close()
            self._session.close()
            raise DatastoreError(f"etcd refused the watch on {prefix!r}: {text}")
        return response

    # -- consumer side ----------------------------------------------------
    def get(self, timeout: float | None = None) -> list[WatchEvent]:
        if self._error is not None:
            raise self._error
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        events: list[WatchEvent] = []
        for item in items:
            if isinstance(item, DatastoreError):
                self._error = item
                break
            events.extend(item)
        if events or self._closed.is_set():
            return events
        if self._error is not None:
            raise self._error
        return events

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._response is not None:
            _shutdown(self._response)
            self._response.close()
            self._thread.join(timeout=5)
        self._session.close()
        self._queue.put([])  # wake a get() blocked forever

    # -- reader thread ----------------------------------------------------
    def _read(self) -> None:
        assert self._response is not None
        try:
            for line in _lines(self._response):
                self._handle(json.loads(line))
            raise DatastoreUnavailableError(f"etcd closed the watch stream on {self._prefix!r}")
        except DatastoreError as exc:
            if not self._closed.is_set():
                self._queue.put(exc)
        except (requests.RequestException, OSError, ValueError) as exc:
            if not self._closed.is_set():
                self._queue.put(
                    DatastoreUnavailableError(f"etcd watch stream on {self._prefix!r} broke: {exc}")
                )

    def _handle(self, message: dict[str, Any]) -> None:
        if "error" in message:
            error = message["error"]
            text = error.get("message", error) if isinstance(error, dict) else error
            raise DatastoreError(f"etcd watch on {self._prefix!r} failed: {text}")
        result = message.get("result", {})
        compact_revision = int(result.get("compact_revision", 0))
        if compact_revision:
            # etcd keeps its compaction revision watchable; the contract's
            # compaction point is the revision below it.
            raise _compacted(self._stream_next, compact_revision - 1)
        if result.get("canceled"):
            reason = result.get("cancel_reason") or "no reason given"
            raise DatastoreError(f"etcd canceled the watch on {self._prefix!r}: {reason}")
        events = [_event(raw) for raw in result.get("events", [])]
        if events:
            self._stream_next = events[-1].revision + 1
            self._queue.put(events)


def _event(raw: dict[str, Any]) -> WatchEvent:
    kv = raw["kv"]
    key, revision = unb64(kv["key"]), int(kv["mod_revision"])
    if raw.get("type") == "DELETE":
        return WatchEvent(EventType.DELETE, key, None, revision)
    return WatchEvent(EventType.PUT, key, unb64(kv.get("value", "")), revision)


def _lines(response: requests.Response) -> Iterator[bytes]:
    """Complete lines of the stream, whatever the chunking (a large event batch
    spans many chunks; several small messages may share one)."""
    buffer = bytearray()
    for chunk in response.iter_content(chunk_size=None):
        start = len(buffer)
        buffer += chunk
        while (newline := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            start = 0
            if line.strip():
                yield line
    if buffer.strip():
        yield bytes(buffer)


def _compacted(revision: int, compact_revision: int) -> CompactedError:
    return CompactedError(
        f"revision {revision} has been compacted (compaction at {compact_revision})",
        revision=revision,
        compact_revision=compact_revision,
    )


def _shutdown(response: requests.Response) -> None:
    """Shut the stream's socket down so the reader thread's recv() returns."""
    try:
        # fromfd duplicates the descriptor; shutdown acts on the shared socket.
        sock = socket.fromfd(response.raw.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except (OSError, ValueError, AttributeError):
        return  # already closed
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()
