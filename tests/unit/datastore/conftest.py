"""The ``backend`` fixture: every contract test runs on memory, sqlite and etcd.

The etcd parameter is marked ``etcd`` and uses the ``etcd_datastore``
fixture from ``tests.etcd_fixture`` (registered in tests/conftest.py).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from calico.datastore import Datastore, MemoryDatastore
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.sqlite import SqliteDatastore
from tests.unit.datastore._parallel import Opener, run_in_processes, run_in_threads


@dataclass
class Backend:
    name: str
    store: Datastore
    opener: Opener  # a new handle on the same data, usable in another process
    multiprocess: bool

    def run_parallel(self, worker: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
        run = run_in_processes if self.multiprocess else run_in_threads
        return run(worker, args)

    @property
    def shared_server(self) -> bool:
        """etcd is one server for the session: absolute revisions are unknown."""
        return self.name == "etcd"


def _shared(store: Datastore) -> Datastore:
    return store


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.etcd)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    if request.param == "memory":
        memory = MemoryDatastore()
        yield Backend("memory", memory, functools.partial(_shared, memory), False)
    elif request.param == "sqlite":
        path = os.path.join(tmp_path, "calico.db")
        with SqliteDatastore(path) as sqlite:
            yield Backend("sqlite", sqlite, functools.partial(SqliteDatastore, path), True)
    else:
        etcd: EtcdDatastore = request.getfixturevalue("etcd_datastore")
        opener = functools.partial(EtcdDatastore, list(etcd.endpoints))
        yield Backend("etcd", etcd, opener, True)


@pytest.fixture
def store(backend: Backend) -> Datastore:
    return backend.store
