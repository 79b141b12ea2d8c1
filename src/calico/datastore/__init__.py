"""Revisioned key/value datastore with watches: memory, sqlite and etcd v3 backends.

``EtcdDatastore`` lives in ``calico.datastore.etcd`` and is not imported here,
so that processes using sqlite never load its HTTP stack; ``open_datastore``
picks the backend from a ``DatastoreConfig``.
"""

from calico.datastore._base import KV, Datastore, EventType, Watcher, WatchEvent
from calico.datastore.config import DatastoreConfig, load_config, open_datastore
from calico.datastore.memory import MemoryDatastore
from calico.datastore.sqlite import SqliteDatastore

__all__ = [
    "KV",
    "Datastore",
    "DatastoreConfig",
    "EventType",
    "MemoryDatastore",
    "SqliteDatastore",
    "WatchEvent",
    "Watcher",
    "load_config",
    "open_datastore",
]
