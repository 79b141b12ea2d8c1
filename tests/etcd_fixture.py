"""pytest fixtures for a real etcd: register with ``pytest_plugins = ["tests.etcd_fixture"]``.

* ``etcd_server``: one single-member etcd for the whole session, on
  127.0.0.1 with free ports, data on tmpfs when available (etcd fsyncs every
  write; on tmpfs that costs nothing).  Stopped and removed at session end.
* ``etcd_datastore``: a fresh EtcdDatastore per test on an emptied keyspace.
  Revisions keep growing across tests (it is one etcd), so tests must use
  the revisions they observe, never absolute numbers.

Both skip when the ``etcd`` binary is missing.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator

import pytest
import requests

from calico.datastore.etcd import EtcdDatastore
from calico.datastore.etcd_server import EtcdServer


def tmp_parent() -> str | None:
    """tmpfs for etcd data when writable: etcd fsyncs every write."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer]:
    if shutil.which("etcd") is None:
        pytest.skip("needs the etcd binary (etcd-server)")
    with EtcdServer(tmp_parent=tmp_parent(), name="calico-test") as server:
        yield server


def wipe_etcd(endpoint: str) -> None:
    """Delete every key (key "\\0" with range_end "\\0" is the whole keyspace)."""
    everything = base64.b64encode(b"\0").decode()
    response = requests.post(
        f"{endpoint}/v3/kv/deleterange",
        json={"key": everything, "range_end": everything},
        timeout=10,
    )
    response.raise_for_status()


@pytest.fixture
def etcd_datastore(etcd_server: EtcdServer) -> Iterator[EtcdDatastore]:
    wipe_etcd(etcd_server.endpoint)
    store = EtcdDatastore([etcd_server.endpoint])
    try:
        yield store
    finally:
        store.close()
