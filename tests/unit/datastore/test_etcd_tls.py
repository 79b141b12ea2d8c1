"""etcd over TLS with client certificates, as real deployments run it.

One etcd per module with ``--client-cert-auth``, its certificates from a
throwaway CA (``tests.tls_certs``), on https://127.0.0.1:<free port>.  Every
component that talks to etcd is driven through it: the datastore itself
(CRUD, CAS, list, the streaming watch), the environment and CalicoAPIConfig
settings, ``calicoctl -c`` and the CNI plugin's STATUS (subprocesses), and
the failures a misconfigured client meets: the wrong CA, no client
certificate, a certificate file that is not there.

The machine's environment may set REQUESTS_CA_BUNDLE (it overrode the
configured CA once); the tests keep it, and one sets it to a foreign CA.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from calico.datastore import EventType
from calico.datastore.config import DatastoreConfig, load_config, open_datastore
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.etcd_server import EtcdServer
from calico.datastore.keys import resource_key
from calico.errors import (
    ConfigError,
    ConflictError,
    DatastoreUnavailableError,
    NotFoundError,
)
from tests.etcd_fixture import tmp_parent
from tests.tls_certs import TLSFiles, have_openssl, make_ca, tls_files

pytestmark = [
    pytest.mark.etcd,
    pytest.mark.skipif(not have_openssl(), reason="needs the openssl command"),
]

BIN = Path(sys.executable).parent  # the venv's console scripts
FILE_VARS = {
    "ETCD_CA_CERT_FILE": "ca_cert",
    "ETCD_CERT_FILE": "client_cert",
    "ETCD_KEY_FILE": "client_key",
}
FILE_FIELDS = {
    "etcdCACertFile": "ca_cert",
    "etcdCertFile": "client_cert",
    "etcdKeyFile": "client_key",
}
POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: tls-pool
spec:
  cidr: 10.77.0.0/16
  ipipMode: Never
  natOutgoing: true
"""


@pytest.fixture(scope="module")
def tls() -> Iterator[TLSFiles]:
    with tls_files() as files:
        make_ca(files.directory, "other-ca", "some-other-ca")
        yield files


@pytest.fixture(scope="module")
def tls_etcd(tls: TLSFiles) -> Iterator[EtcdServer]:
    server = EtcdServer(
        tmp_parent=tmp_parent(),
        name="calico-tls-test",
        cert_file=tls.server_cert,
        key_file=tls.server_key,
        trusted_ca_file=tls.ca_cert,
        client_cert_auth=True,
        client_cert_file=tls.client_cert,
        client_key_file=tls.client_key,
    )
    with server:
        yield server


@pytest.fixture
def endpoint(tls_etcd: EtcdServer, tls: TLSFiles) -> str:
    """The TLS etcd's URL, its keyspace emptied."""
    everything = base64.b64encode(b"\0").decode()
    response = requests.post(
        f"{tls_etcd.endpoint}/v3/kv/deleterange",
        json={"key": everything, "range_end": everything},
        verify=tls.ca_cert,
        cert=(tls.client_cert, tls.client_key),
        timeout=10,
    )
    response.raise_for_status()
    return tls_etcd.endpoint


@pytest.fixture
def store(endpoint: str, tls: TLSFiles) -> Iterator[EtcdDatastore]:
    ds = EtcdDatastore([endpoint], ca_cert=tls.ca_cert, cert=tls.client_cert, key=tls.client_key)
    yield ds
    ds.close()


def other_ca(tls: TLSFiles) -> str:
    return os.path.join(tls.directory, "other-ca.pem")


def tls_env(endpoint: str, tls: TLSFiles, **overrides: str) -> dict[str, str]:
    return {
        "DATASTORE_TYPE": "etcdv3",
        "ETCD_ENDPOINTS": endpoint,
        "ETCD_CA_CERT_FILE": tls.ca_cert,
        "ETCD_CERT_FILE": tls.client_cert,
        "ETCD_KEY_FILE": tls.client_key,
        **overrides,
    }


def child_env(**extra: str) -> dict[str, str]:
    """This environment without datastore settings of its own, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ETCD_", "DATASTORE_", "CALICO_", "CNI_"))
    }
    return {**env, **extra}


# -- the datastore ---------------------------------------------------------------


def test_etcd_server_serves_https_and_demands_a_client_certificate(
    tls_etcd: EtcdServer, tls: TLSFiles
) -> None:
    assert tls_etcd.endpoint.startswith("https://127.0.0.1:")
    url = f"{tls_etcd.endpoint}/health"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=tls.ca_cert, timeout=5)
    good = requests.get(url, verify=tls.ca_cert, cert=(tls.client_cert, tls.client_key), timeout=5)
    assert good.json()["health"] == "true"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cert_file": "c.pem"},
        {"trusted_ca_file": "ca.pem"},
        {"cert_file": "c.pem", "key_file": "k.pem", "client_cert_auth": True},
        {"cert_file": "c", "key_file": "k", "trusted_ca_file": "ca", "client_cert_auth": True},
    ],
)
def test_etcd_server_rejects_incomplete_tls_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be given together|need"):
        EtcdServer(**kwargs)


def test_crud_cas_and_list_over_tls(store: EtcdDatastore) -> None:
    first = store.create("/calico/t/a", "1")
    kv = store.get("/calico/t/a")
    assert kv is not None
    assert (kv.value, kv.mod_revision) == ("1", first)
    second = store.update("/calico/t/a", "2", first)
    assert second > first
    with pytest.raises(ConflictError):
        store.update("/calico/t/a", "3", first)
    store.create("/calico/t/b", "x")
    items, revision = store.list("/calico/t/")
    assert [(i.key, i.value) for i in items] == [("/calico/t/a", "2"), ("/calico/t/b", "x")]
    assert revision >= second
    store.delete("/calico/t/a", second)
    with pytest.raises(NotFoundError):
        store.delete("/calico/t/a", second)
    assert store.get("/calico/t/a") is None


def test_watch_streams_events_over_tls(store: EtcdDatastore) -> None:
    start = store.create("/calico/w/a", "1")
    watcher = store.watch("/calico/w/", start)
    try:
        updated = store.update("/calico/w/a", "2", start)  # while the stream is open
        deleted = store.delete("/calico/w/a")
        store.put("/calico/elsewhere", "ignored")
        events: list[Any] = []
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            events += watcher.get(timeout=1)
        assert [(e.type, e.key, e.value, e.revision) for e in events] == [
            (EventType.PUT, "/calico/w/a", "1", start),
            (EventType.PUT, "/calico/w/a", "2", updated),
            (EventType.DELETE, "/calico/w/a", None, deleted),
        ]
    finally:
        began = time.monotonic()
        watcher.close()  # shuts the TLS socket down under the reader thread
        assert time.monotonic() - began < 2


def test_configured_ca_wins_over_requests_ca_bundle(
    endpoint: str, tls: TLSFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets these override a session's CA file unless verify= is explicit.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca(tls))
    monkeypatch.setenv("CURL_CA_BUNDLE", other_ca(tls))
    ds = EtcdDatastore([endpoint], ca_cert=tls.ca_cert, cert=tls.client_cert, key=tls.client_key)
    try:
        revision = ds.create("/calico/bundle", "v")
        watcher = ds.watch("/calico/bundle", revision)
        try:
            assert [e.value for e in watcher.get(timeout=5)] == ["v"]
        finally:
            watcher.close()
    finally:
        ds.close()


# -- what a misconfigured client sees ----------------------------------------------


def attempt(ds: EtcdDatastore, operation: str) -> None:
    """A read, a transaction (not retried elsewhere) or a watch stream."""
    if operation == "get":
        ds.get("/k")
    elif operation == "create":
        ds.create("/k", "v")
    else:
        ds.watch("/k", 1).close()


@pytest.mark.parametrize("operation", ["get", "create", "watch"])
def test_wrong_ca_is_one_line_unavailable_naming_the_endpoint(
    endpoint: str, tls: TLSFiles, operation: str
) -> None:
    ds = EtcdDatastore([endpoint], ca_cert=other_ca(tls), cert=tls.client_cert, key=tls.client_key)
    with pytest.raises(DatastoreUnavailableError) as info:
        attempt(ds, operation)
    text = str(info.value)
    assert "\n" not in text
    assert endpoint in text
    assert "TLS handshake failed: certificate verify failed" in text, text
    ds.close()


@pytest.mark.parametrize("operation", ["get", "create", "watch"])
def test_missing_client_certificate_says_so(endpoint: str, tls: TLSFiles, operation: str) -> None:
    ds = EtcdDatastore([endpoint], ca_cert=tls.ca_cert)
    with pytest.raises(DatastoreUnavailableError) as info:
        attempt(ds, operation)
    text = str(info.value)
    assert "\n" not in text
    assert endpoint in text
    assert "TLS handshake failed" in text
    assert "no client certificate configured" in text, text
    ds.close()


def test_unusable_tls_files_are_config_errors_naming_them(endpoint: str, tls: TLSFiles) -> None:
    with pytest.raises(ConfigError, match="key values mismatch") as info:
        EtcdDatastore([endpoint], ca_cert=tls.ca_cert, cert=tls.server_cert, key=tls.client_key)
    assert tls.server_cert in str(info.value)
    assert tls.client_key in str(info.value)
    with pytest.raises(ConfigError, match=f"CA certificate {tls.client_key}: "):
        EtcdDatastore([endpoint], ca_cert=tls.client_key)
    with pytest.raises(ConfigError, match="given together"):
        EtcdDatastore([endpoint], ca_cert=tls.ca_cert, cert=tls.client_cert)
    with pytest.raises(ConfigError, match="No such file"):
        EtcdDatastore([endpoint], ca_cert="/nonexistent/ca.pem")


# -- configuration: environment and CalicoAPIConfig ----------------------------------


def test_from_env_opens_the_tls_etcd(endpoint: str, tls: TLSFiles) -> None:
    cfg = DatastoreConfig.from_env(tls_env(endpoint, tls))
    ds = open_datastore(cfg)
    try:
        assert isinstance(ds, EtcdDatastore)
        revision = ds.create("/calico/env", "v")
        kv = ds.get("/calico/env")
        assert kv is not None
        assert kv.mod_revision == revision
    finally:
        ds.close()


@pytest.mark.parametrize("variable", sorted(FILE_VARS))
def test_env_cert_file_that_does_not_exist_names_variable_and_path(
    endpoint: str, tls: TLSFiles, variable: str
) -> None:
    missing = os.path.join(tls.directory, "missing.pem")
    with pytest.raises(ConfigError) as info:
        DatastoreConfig.from_env(tls_env(endpoint, tls, **{variable: missing}))
    assert variable in str(info.value)
    assert missing in str(info.value)


@pytest.mark.parametrize("field", sorted(FILE_FIELDS))
def test_config_file_cert_that_does_not_exist_names_field_and_path(
    endpoint: str, tls: TLSFiles, tmp_path: Path, field: str
) -> None:
    missing = str(tmp_path / "missing.pem")
    path = write_api_config(tmp_path, endpoint, tls, **{field: missing})
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert f"spec.{field}" in str(info.value)
    assert missing in str(info.value)


def write_api_config(tmp_path: Path, endpoint: str, tls: TLSFiles, **overrides: str) -> str:
    spec = {field: getattr(tls, attr) for field, attr in FILE_FIELDS.items()}
    spec |= {"datastoreType": "etcdv3", "etcdEndpoints": endpoint, **overrides}
    doc = {"apiVersion": "projectcalico.org/v3", "kind": "CalicoAPIConfig", "spec": spec}
    path = tmp_path / "calicoctl.cfg"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


# -- calicoctl and the CNI plugin, as subprocesses ----------------------------------


def calicoctl(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "calicoctl"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_calicoctl_config_file_apply_and_get_over_tls(
    store: EtcdDatastore, tls: TLSFiles, tmp_path: Path
) -> None:
    config = write_api_config(tmp_path, store.endpoints[0], tls)
    env = child_env()
    applied = calicoctl("apply", "-c", config, "-f", "-", env=env, stdin=POOL)
    assert applied.returncode == 0, applied.stderr
    got = calicoctl("get", "ippool", "tls-pool", "-o", "yaml", "-c", config, env=env)
    assert got.returncode == 0, got.stderr
    assert yaml.safe_load(got.stdout)["spec"]["cidr"] == "10.77.0.0/16"
    kv = store.get(resource_key("IPPool", "tls-pool"))  # it really is in the TLS etcd
    assert kv is not None
    assert json.loads(kv.value)["spec"]["cidr"] == "10.77.0.0/16"


def test_calicoctl_environment_over_tls_and_its_errors(
    store: EtcdDatastore, tls: TLSFiles, tmp_path: Path
) -> None:
    endpoint = store.endpoints[0]
    store.create(resource_key("IPPool", "tls-pool"), json.dumps(yaml.safe_load(POOL)))
    ok = calicoctl("get", "ippools", env=child_env(**tls_env(endpoint, tls)))
    assert ok.returncode == 0, ok.stderr
    assert "tls-pool" in ok.stdout
    assert "10.77.0.0/16" in ok.stdout
    wrong_ca = child_env(**tls_env(endpoint, tls, ETCD_CA_CERT_FILE=other_ca(tls)))
    failed = calicoctl("get", "ippools", env=wrong_ca)
    assert failed.returncode != 0
    assert "certificate verify failed" in failed.stderr
    assert endpoint in failed.stderr
    missing = str(tmp_path / "nope.pem")
    bad_file = calicoctl(
        "get", "ippools", env=child_env(**tls_env(endpoint, tls, ETCD_KEY_FILE=missing))
    )
    assert bad_file.returncode != 0
    assert f"ETCD_KEY_FILE={missing}" in bad_file.stderr


def cni_status(network: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    env = child_env(CNI_COMMAND="STATUS", CNI_PATH=str(BIN))
    return subprocess.run(
        [str(BIN / "calico")],
        input=json.dumps(network).encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def cni_network(endpoint: str, ca_cert: str, tls: TLSFiles) -> dict[str, Any]:
    return {
        "cniVersion": "1.1.0",
        "name": "k8s-pod-network",
        "type": "calico",
        "datastore_type": "etcdv3",
        "etcd_endpoints": endpoint,
        "etcd_ca_cert_file": ca_cert,
        "etcd_cert_file": tls.client_cert,
        "etcd_key_file": tls.client_key,
        "nodename_file_optional": True,
        "ipam": {"type": "calico-ipam"},
    }


def test_cni_status_reaches_the_tls_datastore(store: EtcdDatastore, tls: TLSFiles) -> None:
    endpoint = store.endpoints[0]
    info = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "ClusterInformation",
        "metadata": {"name": "default"},
        "spec": {"datastoreReady": True},
    }
    key = resource_key("ClusterInformation", "default")
    revision = store.create(key, json.dumps(info))
    # calico-ipam (the delegate) answers STATUS from the pools, read over TLS too.
    store.create(resource_key("IPPool", "tls-pool"), json.dumps(yaml.safe_load(POOL)))
    ready = cni_status(cni_network(endpoint, tls.ca_cert, tls))
    assert ready.returncode == 0, (ready.stdout, ready.stderr)

    # The plugin really reads over TLS: "not ready" in etcd is error 50 ...
    store.update(key, json.dumps({**info, "spec": {"datastoreReady": False}}), revision)
    not_ready = cni_status(cni_network(endpoint, tls.ca_cert, tls))
    assert not_ready.returncode != 0
    assert json.loads(not_ready.stdout)["code"] == 50
    assert "not ready" in json.loads(not_ready.stdout)["msg"]

    # ... and so is a datastore it cannot trust, with the reason in the details.
    untrusted = cni_status(cni_network(endpoint, other_ca(tls), tls))
    assert untrusted.returncode != 0
    reply = json.loads(untrusted.stdout)
    assert reply["code"] == 50
    assert "certificate verify failed" in reply.get("details", ""), reply
