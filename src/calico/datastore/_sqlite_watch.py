"""Watching the sqlite revision table: poll, and wake early on local writes.

Other processes' writes are only visible by looking, so a watcher polls
for rows above the last revision it delivered.  Writes made in this process
(through any SqliteDatastore on the same file) also bump a per-file
``Notifier``, which cuts the wait short: same-process latency is then the
cost of one query rather than half a poll interval.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from calico.datastore._base import Watcher, WatchEvent


class Notifier:
    """A generation counter plus condition, shared by this process's stores of one file."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Wait up to ``timeout`` unless the generation already moved past ``seen``."""
        with self._cond:
            if self.generation == seen:
                self._cond.wait(timeout)


_NOTIFIERS: dict[str, Notifier] = {}
_NOTIFIERS_LOCK = threading.Lock()


def notifier_for(path: str) -> Notifier:
    with _NOTIFIERS_LOCK:
        return _NOTIFIERS.setdefault(os.path.realpath(path), Notifier())


class PollingWatcher(Watcher):
    """Calls ``poll(next_revision)`` until it returns events, a deadline passes, or close().

    ``poll`` returns the events at or above a revision (raising CompactedError
    when that revision is gone), in revision order.
    """

    def __init__(
        self,
        poll: Callable[[int], list[WatchEvent]],
        notifier: Notifier,
        start_revision: int,
        interval: float,
    ) -> None:
        self._poll = poll
        self._notifier = notifier
        self._next = start_revision
        self._interval = interval
        self._closed = False

    def get(self, timeout: float | None = None) -> list[WatchEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            seen = self._notifier.generation  # read before polling: no lost wake-up
            events = self._poll(self._next)
            if events:
                self._next = events[-1].revision + 1
                return events
            wait = self._interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                wait = min(wait, remaining)
            self._notifier.wait(seen, wait)
        return []

    def close(self) -> None:
        self._closed = True
