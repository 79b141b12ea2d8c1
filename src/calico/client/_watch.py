"""Watching resources: datastore watch events decoded into resources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from calico.client._codec import parse_stored
from calico.datastore import EventType, Watcher, WatchEvent
from calico.resources import Resource


@dataclass(frozen=True, slots=True)
class ResourceEvent:
    """A change to a resource.  ``resource`` is None for deletes."""

    type: EventType
    key: str
    resource: Resource | None
    revision: int

    @classmethod
    def of(cls, event: WatchEvent) -> ResourceEvent:
        value = event.value
        resource = None if value is None else parse_stored(event.key, value, event.revision)
        return cls(event.type, event.key, resource, event.revision)


class ResourceWatcher:
    """A datastore Watcher whose events come out as :class:`ResourceEvent`.

    ``get(timeout)`` and the error contract are ``Watcher``'s: CompactedError
    or DatastoreError mean "re-list and watch again".
    """

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def get(self, timeout: float | None = None) -> list[ResourceEvent]:
        """Block up to ``timeout`` seconds for events; [] on timeout."""
        return [ResourceEvent.of(event) for event in self._watcher.get(timeout)]

    def close(self) -> None:
        self._watcher.close()

    def __iter__(self) -> Iterator[ResourceEvent]:
        while True:
            yield from self.get(None)

    def __enter__(self) -> ResourceWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
