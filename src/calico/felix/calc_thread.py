"""The calc graph's thread: datastore updates in, batches of dataplane messages out.

The syncer's callbacks only enqueue, so a slow graph never stalls the
datastore watch; this thread drains the queue in batches of up to
:data:`MAX_BATCH` updates and flushes the graph once per batch, which
coalesces bursts (a resync, a big policy change) into one dataplane apply.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from calico.felix.calc.graph import CalcGraph
from calico.felix.config_watch import ConfigWatcher
from calico.felix.messages import DataplaneMessage

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # datastore updates fed to the graph between flushes

_IN_SYNC = object()


class CalcThread:
    """Owns the CalcGraph: the syncer's callbacks only enqueue, this thread
    feeds the graph in batches and hands each flush to the dataplane."""

    def __init__(
        self,
        graph: CalcGraph,
        send: Callable[[list[DataplaneMessage]], None],
        watcher: ConfigWatcher,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self._graph, self._send, self._watcher = graph, send, watcher
        self._on_fatal = on_fatal
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="felix-calc", daemon=True)
        self.in_sync = False
        self.last_tick = time.monotonic()

    # SyncerCallbacks, called on the syncer's thread.
    def on_update(self, key: str, value: dict[str, Any] | None) -> None:
        self._queue.put((key, value))

    def on_in_sync(self) -> None:
        self._queue.put(_IN_SYNC)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        leftover: object = None
        try:
            while not self._stopping.is_set():
                self.last_tick = time.monotonic()
                if leftover is None:
                    try:
                        leftover = self._queue.get(timeout=1.0)
                    except queue.Empty:
                        continue
                leftover = self._batch(leftover)
        except Exception as exc:  # a bug in the graph: felix cannot go on safely
            log.exception("Calculation graph failed")
            self._on_fatal(exc)

    def _batch(self, item: object) -> object:
        """Feed ``item`` and what queued behind it, up to MAX_BATCH, then flush.
        Returns the first item of the next batch, if the queue had more."""
        for _ in range(MAX_BATCH):
            if item is None:
                break
            self._feed(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
                break
        messages = self._graph.flush()
        if messages:
            self._watcher.observe(messages)
            self._send(messages)
        return item

    def _feed(self, item: object) -> None:
        if item is _IN_SYNC:
            self._graph.on_in_sync()
            self.in_sync = True
        elif isinstance(item, tuple):
            key, value = item
            self._graph.on_update(key, value)
