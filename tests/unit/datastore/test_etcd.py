"""What only the etcd backend has: endpoints, failover, paging, a stream that can break."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from calico.datastore import etcd as etcd_module
from calico.datastore._etcd_http import b64
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.etcd_server import EtcdServer
from calico.errors import ConfigError, DatastoreError, DatastoreUnavailableError
from tests.etcd_fixture import tmp_parent
from tests.unit.datastore.test_contract import collect

pytestmark = pytest.mark.etcd


def _dead_endpoint() -> str:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_etcd_is_unavailable_naming_the_endpoint() -> None:
    dead = _dead_endpoint()
    store = EtcdDatastore([dead], timeout=2)
    with pytest.raises(DatastoreUnavailableError, match=dead):
        store.get("/k")
    with pytest.raises(DatastoreUnavailableError, match=dead):
        store.create("/k", "v")
    with pytest.raises(DatastoreUnavailableError, match=dead):
        store.watch("/", 1)


def test_fails_over_to_the_next_endpoint(etcd_datastore: EtcdDatastore) -> None:
    store = EtcdDatastore([_dead_endpoint(), *etcd_datastore.endpoints], timeout=2)
    rev = store.create("/k", "v")  # a transaction, retried because it was never sent
    assert store.update("/k", "w", rev) == rev + 1
    with store.watch("/", rev) as watcher:
        assert [e.value for e in collect(watcher, 2)] == ["v", "w"]


@pytest.mark.parametrize("url", ["127.0.0.1:2379", "ftp://h:1", "http://h:notaport", "http://h/x"])
def test_bad_endpoint_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="etcd endpoint"):
        EtcdDatastore([url])


def test_list_pages_stay_on_the_first_pages_revision(
    etcd_datastore: EtcdDatastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(10):
        etcd_datastore.put(f"/page/{i:02}", str(i))
    monkeypatch.setattr(etcd_module, "LIST_PAGE_SIZE", 3)
    real_post = etcd_datastore._http.post
    pages = []

    def post_then_write(path: str, payload: dict[str, Any], *, idempotent: bool) -> Any:
        response = real_post(path, payload, idempotent=idempotent)
        if path == "kv/range" and payload.get("limit"):
            pages.append(payload)
            if len(pages) == 1:  # a write between pages must not show up
                real_post("kv/put", {"key": b64("/page/05a"), "value": ""}, idempotent=True)
        return response

    monkeypatch.setattr(etcd_datastore._http, "post", post_then_write)
    items, revision = etcd_datastore.list("/page/")
    assert [kv.key for kv in items] == [f"/page/{i:02}" for i in range(10)]
    assert len(pages) == 4
    assert revision == etcd_datastore.current_revision() - 1


def test_compacting_at_the_head_revision_works(etcd_datastore: EtcdDatastore) -> None:
    head = etcd_datastore.put("/k", "v")
    etcd_datastore.compact(head)
    etcd_datastore.compact(head)  # again: already compacted, not an error
    assert etcd_datastore.put("/k", "w") == head + 1


def test_watch_reports_a_broken_stream() -> None:
    with EtcdServer(tmp_parent=tmp_parent()) as server:
        store = EtcdDatastore([server.endpoint], timeout=2)
        watcher = store.watch("/", store.current_revision() + 1)
        store.put("/k", "v")
        assert len(collect(watcher, 1)) == 1
        server.stop()
        with pytest.raises(DatastoreError, match="etcd watch"):
            watcher.get(timeout=10)
        with pytest.raises(DatastoreError):  # and stays broken
            watcher.get(timeout=0)
        watcher.close()
