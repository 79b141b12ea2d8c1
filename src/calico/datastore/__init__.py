"""Revisioned key/value datastore with watches: memory, sqlite and etcd v3 backends."""

from calico.datastore._base import KV, Datastore, EventType, Watcher, WatchEvent
from calico.datastore.memory import MemoryDatastore

__all__ = ["KV", "Datastore", "EventType", "MemoryDatastore", "WatchEvent", "Watcher"]
