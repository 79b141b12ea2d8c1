"""Follow one datastore prefix: a snapshot, then every change, re-listing when needed.

The syncer contract of ARCHITECTURE.md ("Datastore") for a single prefix:
``list`` gives the keys and the revision; ``watch(revision + 1)`` continues
exactly from there.  When the watch breaks (``CompactedError``: the revision
we needed was compacted away; any other ``DatastoreError``: the connection
failed) we list again and hand over a fresh snapshot, which the consumer
takes as the whole truth: keys missing from it are gone, even if their
delete event was never seen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from calico.datastore import Datastore
from calico.errors import CompactedError, DatastoreError

_log = logging.getLogger(__name__)

OnSnapshot = Callable[[dict[str, str]], None]
OnChange = Callable[[str, str | None], None]  # value None: deleted


def follow(
    datastore: Datastore,
    prefix: str,
    on_snapshot: OnSnapshot,
    on_change: OnChange,
    stop: threading.Event,
    *,
    poll_interval: float = 0.5,
    retry_interval: float = 1.0,
) -> None:
    """Call ``on_snapshot`` then ``on_change`` for ``prefix`` until ``stop`` is set.

    Runs in the caller's thread; ``poll_interval`` bounds how long ``stop``
    may go unnoticed.
    """
    while not stop.is_set():
        try:
            items, revision = datastore.list(prefix)
            on_snapshot({kv.key: kv.value for kv in items})
            _watch(datastore, prefix, revision + 1, on_change, stop, poll_interval)
        except CompactedError:
            _log.info("watch of %s fell behind compaction; re-listing", prefix)
        except DatastoreError as exc:
            _log.warning("datastore error following %s: %s; retrying", prefix, exc)
            stop.wait(retry_interval)


def _watch(
    datastore: Datastore,
    prefix: str,
    start: int,
    on_change: OnChange,
    stop: threading.Event,
    poll_interval: float,
) -> None:
    with datastore.watch(prefix, start) as watcher:
        while not stop.is_set():
            for event in watcher.get(poll_interval):
                on_change(event.key, event.value)
