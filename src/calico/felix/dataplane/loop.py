"""The dataplane's thread: a queue in, :meth:`InternalDataplane.tick` whenever it is due.

Other threads never touch the dataplane's state.  The calc graph's thread
calls :meth:`DataplaneLoop.send` with each flush, the link monitor calls
:meth:`DataplaneLoop.links_changed`; both only enqueue.  The loop waits on
the queue until the dataplane's next deadline (throttle, back-off, refresh,
or at least once a second for the health heartbeat), feeds it whatever
arrived, and ticks it.

An exception escaping the dataplane (a message that contradicts its state,
such as a delta for an IP set it never heard of) is a bug it cannot recover
from safely: the loop reports it as fatal rather than die silently and
leave felix running without anyone programming the kernel.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from calico.felix.dataplane.driver import InternalDataplane
from calico.felix.messages import DataplaneMessage

log = logging.getLogger(__name__)

_LINKS_CHANGED = object()
_STOP = object()


class DataplaneLoop:
    def __init__(
        self, dataplane: InternalDataplane, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.dataplane = dataplane
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="felix-dataplane", daemon=True)

    # --- any thread ---------------------------------------------------------------------------

    def send(self, messages: Sequence[DataplaneMessage]) -> None:
        if messages:
            self._queue.put(list(messages))

    def links_changed(self) -> None:
        self._queue.put(_LINKS_CHANGED)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current step; kernel state is left exactly as it is."""
        self._stopping.set()
        self._queue.put(_STOP)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the dataplane's thread -----------------------------------------------------------------

    def _run(self) -> None:
        wake_at = self._clock()
        try:
            while not self._stopping.is_set() and not self.dataplane.stopped:
                timeout = max(0.0, wake_at - self._clock())
                try:
                    self._handle(self._queue.get(timeout=timeout))
                    self._drain()
                except queue.Empty:
                    pass
                wake_at = self.dataplane.tick()
        except Exception as exc:
            log.exception("Dataplane loop failed")
            self.dataplane.fatal(exc)

    def _drain(self) -> None:
        while True:
            try:
                self._handle(self._queue.get_nowait())
            except queue.Empty:
                return

    def _handle(self, item: object) -> None:
        if item is _LINKS_CHANGED:
            self.dataplane.on_links_changed()
        elif isinstance(item, list):
            self.dataplane.on_messages(item)
