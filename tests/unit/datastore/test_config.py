"""Datastore selection: environment, CalicoAPIConfig files, calicoctl's precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from calico.datastore import MemoryDatastore
from calico.datastore.config import (
    DEFAULT_SQLITE_PATH,
    DatastoreConfig,
    load_config,
    open_datastore,
)
from calico.datastore.etcd import EtcdDatastore
from calico.datastore.sqlite import SqliteDatastore
from calico.errors import ConfigError

ETCD_FILE = """\
apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata: {}
spec:
  datastoreType: etcdv3
  etcdEndpoints: http://10.0.0.1:2379, https://etcd.example:2379
"""


def write(tmp_path: Path, text: str, name: str = "calicoctl.cfg") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_env_defaults_to_sqlite_at_the_standard_path() -> None:
    cfg = DatastoreConfig.from_env({})
    assert (cfg.type, cfg.sqlite_path) == ("sqlite", DEFAULT_SQLITE_PATH)
    assert DatastoreConfig.from_env({"DATASTORE_TYPE": "", "CALICO_SQLITE_PATH": " "}) == cfg


def test_env_etcdv3_with_endpoints_and_tls(tmp_path: Path) -> None:
    files = {name: write(tmp_path, "pem", name) for name in ("ca.pem", "cert.pem", "key.pem")}
    cfg = DatastoreConfig.from_env(
        {
            "DATASTORE_TYPE": "etcdv3",
            "ETCD_ENDPOINTS": "http://10.0.0.1:2379,http://10.0.0.2:2379",
            "ETCD_CA_CERT_FILE": files["ca.pem"],
            "ETCD_CERT_FILE": files["cert.pem"],
            "ETCD_KEY_FILE": files["key.pem"],
        }
    )
    assert cfg.etcd_endpoints == ("http://10.0.0.1:2379", "http://10.0.0.2:2379")
    assert (cfg.etcd_ca_cert_file, cfg.etcd_key_file) == (files["ca.pem"], files["key.pem"])


def test_env_etcdv3_defaults_to_the_local_etcd() -> None:
    cfg = DatastoreConfig.from_env({"DATASTORE_TYPE": "etcdv3"})
    assert cfg.etcd_endpoints == ("http://127.0.0.1:2379",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATASTORE_TYPE": "mongo"}, "DATASTORE_TYPE=mongo is not supported"),
        ({"DATASTORE_TYPE": "kubernetes"}, "DATASTORE_TYPE=kubernetes is not supported"),
        ({"ETCD_ENDPOINTS": "10.0.0.1:2379"}, "ETCD_ENDPOINTS=10.0.0.1:2379 is not an http"),
        ({"ETCD_ENDPOINTS": "http://a:1,ftp://b"}, "ETCD_ENDPOINTS=ftp://b is not an http"),
        (
            {"DATASTORE_TYPE": "etcdv3", "ETCD_CA_CERT_FILE": "/nonexistent/ca.pem"},
            "ETCD_CA_CERT_FILE=/nonexistent/ca.pem: no such file",
        ),
    ],
)
def test_bad_env_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        DatastoreConfig.from_env(env)
    assert "\n" not in str(info.value)


def test_cert_without_key_is_refused(tmp_path: Path) -> None:
    env = {"DATASTORE_TYPE": "etcdv3", "ETCD_CERT_FILE": write(tmp_path, "pem", "c.pem")}
    with pytest.raises(ConfigError, match="ETCD_CERT_FILE and ETCD_KEY_FILE must be given"):
        DatastoreConfig.from_env(env)


def test_file_etcdv3(tmp_path: Path) -> None:
    cfg = DatastoreConfig.from_file(write(tmp_path, ETCD_FILE))
    assert cfg.type == "etcdv3"
    assert cfg.etcd_endpoints == ("http://10.0.0.1:2379", "https://etcd.example:2379")


def test_file_sqlite_path_extension_and_json(tmp_path: Path) -> None:
    text = (
        '{"apiVersion": "projectcalico.org/v3", "kind": "CalicoAPIConfig",'
        ' "spec": {"datastoreType": "sqlite", "sqlitePath": "/tmp/x.db", "kubeconfig": ""}}'
    )
    cfg = DatastoreConfig.from_file(write(tmp_path, text))
    assert (cfg.type, cfg.sqlite_path) == ("sqlite", "/tmp/x.db")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ETCD_FILE + "  etcdFoo: 1\n", "unknown CalicoAPIConfig field spec.etcdFoo"),
        (ETCD_FILE + "  kubeconfig: /k\n", "spec.kubeconfig is not supported"),
        (ETCD_FILE.replace("etcdv3", "mongo"), "spec.datastoreType=mongo is not supported"),
        (ETCD_FILE.replace("http://10", "10"), "spec.etcdEndpoints=10.0.0.1:2379 is not an http"),
        (ETCD_FILE.replace("CalicoAPIConfig", "IPPool"), "kind=IPPool, expected CalicoAPIConfig"),
        (ETCD_FILE.replace("projectcalico.org/v3", "v1"), "apiVersion=v1, expected"),
        (ETCD_FILE + "status: {}\n", "unknown CalicoAPIConfig field status"),
        ("spec: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "expected a CalicoAPIConfig mapping"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        DatastoreConfig.from_file(path)
    assert "\n" not in str(info.value)


def test_load_config_precedence(tmp_path: Path) -> None:
    env = {"DATASTORE_TYPE": "sqlite", "CALICO_SQLITE_PATH": "/from/env.db"}
    explicit = write(tmp_path, ETCD_FILE, "explicit.cfg")
    default = write(tmp_path, ETCD_FILE.replace("10.0.0.1", "10.9.9.9"), "default.cfg")
    missing = str(tmp_path / "missing.cfg")
    # -c FILE wins over everything.
    chosen = load_config(explicit, env, default_path=default)
    assert chosen.etcd_endpoints[0] == "http://10.0.0.1:2379"
    # else the default file if present, used whole (env is not merged in).
    chosen = load_config(None, env, default_path=default)
    assert chosen.etcd_endpoints[0] == "http://10.9.9.9:2379"
    # else the environment.
    assert load_config(None, env, default_path=missing).sqlite_path == "/from/env.db"
    with pytest.raises(ConfigError, match=r"missing\.cfg does not exist"):
        load_config(missing, env, default_path=default)


def test_open_datastore_builds_each_backend(tmp_path: Path) -> None:
    sqlite_cfg = DatastoreConfig(type="sqlite", sqlite_path=str(tmp_path / "sub" / "c.db"))
    with open_datastore(sqlite_cfg) as store:
        assert isinstance(store, SqliteDatastore)
        assert store.create("/k", "v") == 2
    assert isinstance(open_datastore(DatastoreConfig(type="memory")), MemoryDatastore)
    etcd_cfg = DatastoreConfig(type="etcdv3", etcd_endpoints=("http://127.0.0.1:1",))
    etcd = open_datastore(etcd_cfg)  # lazy: nothing is contacted until used
    assert isinstance(etcd, EtcdDatastore)
    assert etcd.endpoints == ["http://127.0.0.1:1"]
    with pytest.raises(ConfigError, match="datastore type 'mongo'"):
        open_datastore(DatastoreConfig(type="mongo"))
