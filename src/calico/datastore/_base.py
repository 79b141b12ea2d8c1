"""The datastore seam: a revisioned key/value store with watches.

Every backend (``memory``, ``sqlite``, ``etcd``) implements exactly these
semantics, and one contract test suite runs against all of them:

* A single cluster-wide revision counter.  Every successful write (create,
  update, put, delete) bumps it by one and stamps the key's ``mod_revision``.
  An empty store is at revision 1 (as etcd is); the first write makes it 2.
* ``list(prefix)`` returns the live keys under ``prefix`` and the store
  revision the snapshot was taken at; ``watch(prefix, rev + 1)`` then
  continues exactly where the snapshot ended.  That is the syncer contract.
* ``update``/``delete`` with ``expected_revision`` are compare-and-swap on the
  key's ``mod_revision``: ConflictError when it moved, NotFoundError when the
  key is gone.  ``create`` raises AlreadyExistsError for a live key.
* ``watch`` delivers every put/delete under the prefix with revision >=
  ``start_revision``, in revision order.  If ``start_revision`` is at or below
  the compaction point, the watcher raises CompactedError; the caller re-lists.
* ``put(..., ttl=N)`` attaches a lease: the key disappears (with a delete
  event) N seconds later unless re-put.  Used for status keys.

Values are text (the resource JSON); the store never interprets them.
"""

from __future__ import annotations

import abc
import builtins
import enum
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KV:
    """One live key with its value and revisions."""

    key: str
    value: str
    mod_revision: int
    create_revision: int


class EventType(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change under a watched prefix.  ``value`` is None for deletes."""

    type: EventType
    key: str
    value: str | None
    revision: int


class Watcher(abc.ABC):
    """A stream of WatchEvents; close it when done.

    ``get(timeout)`` blocks up to ``timeout`` seconds (forever if None) for at
    least one event and returns every event available then, possibly an empty
    list on timeout.  It raises CompactedError if the start revision has been
    compacted away, and DatastoreError if the stream broke; in both cases the
    caller should re-list and start a new watch.
    """

    @abc.abstractmethod
    def get(self, timeout: float | None = None) -> list[WatchEvent]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            yield from self.get(None)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Datastore(abc.ABC):
    """A revisioned KV store; see the module docstring for the contract."""

    @abc.abstractmethod
    def get(self, key: str) -> KV | None: ...

    @abc.abstractmethod
    def list(self, prefix: str) -> tuple[builtins.list[KV], int]:
        """Live keys under ``prefix`` (sorted by key) and the store revision."""

    @abc.abstractmethod
    def create(self, key: str, value: str, *, ttl: int | None = None) -> int:
        """Create ``key``; returns its mod_revision.  AlreadyExistsError if live."""

    @abc.abstractmethod
    def update(self, key: str, value: str, expected_revision: int) -> int:
        """CAS update; returns the new mod_revision."""

    @abc.abstractmethod
    def put(self, key: str, value: str, *, ttl: int | None = None) -> int:
        """Unconditional create-or-replace; returns the new mod_revision."""

    @abc.abstractmethod
    def delete(self, key: str, expected_revision: int | None = None) -> int:
        """Delete (CAS when ``expected_revision`` is given); returns the revision."""

    @abc.abstractmethod
    def watch(self, prefix: str, start_revision: int) -> Watcher: ...

    @abc.abstractmethod
    def current_revision(self) -> int: ...

    @abc.abstractmethod
    def compact(self, revision: int) -> None:
        """Forget history below ``revision``; older watches get CompactedError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections/files.  Default: nothing to release."""

    def __enter__(self) -> Datastore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
