"""EtcdServer: a real etcd that starts healthy and leaves nothing behind."""

from __future__ import annotations

import os

import pytest

from calico.datastore.etcd import EtcdDatastore
from calico.datastore.etcd_server import EtcdServer
from calico.errors import DatastoreUnavailableError
from tests.etcd_fixture import tmp_parent

pytestmark = pytest.mark.etcd


def test_starts_healthy_and_stop_removes_process_and_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Our own settings must not reach etcd, which reads ETCD_* as its flags.
    monkeypatch.setenv("ETCD_CERT_FILE", "/nonexistent/cert.pem")
    monkeypatch.setenv("ETCD_ENDPOINTS", "http://192.0.2.1:2379")
    with EtcdServer(tmp_parent=tmp_parent()) as server:
        pid, directory = server.pid, server.dir
        assert server.endpoint.startswith("http://127.0.0.1:")
        assert EtcdDatastore([server.endpoint]).create("/k", "v") == 2
        assert directory is not None
        assert os.path.exists(server.log_path)
    assert not os.path.exists(directory)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    server.stop()  # idempotent


def test_failure_to_start_says_why_and_cleans_up() -> None:
    # 192.0.2.1 (TEST-NET-1) is on no local interface: etcd cannot bind it.
    server = EtcdServer("192.0.2.1", client_port=23790, peer_port=23800, start_timeout=10)
    with pytest.raises(DatastoreUnavailableError, match="etcd exited"):
        server.start()
    assert server.dir is None
    with pytest.raises(RuntimeError):
        _ = server.pid
