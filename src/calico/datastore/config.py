"""Which datastore to use: environment variables or a calicoctl config file.

calicoctl's rule (libcalico-go ``apiconfig.LoadClientConfig``): an explicit
``-c FILE`` wins, else ``/etc/calico/calicoctl.cfg`` if it exists, else the
environment.  A file is used whole; it is never merged with the environment.

Environment: ``DATASTORE_TYPE`` (``sqlite`` default, ``etcdv3``; ``memory``
for tests), ``CALICO_SQLITE_PATH``, ``ETCD_ENDPOINTS`` (comma list),
``ETCD_CA_CERT_FILE``, ``ETCD_CERT_FILE``, ``ETCD_KEY_FILE``.  Empty values
count as unset, as in calicoctl.

File (YAML or JSON)::

    apiVersion: projectcalico.org/v3
    kind: CalicoAPIConfig
    metadata: {}
    spec:
      datastoreType: etcdv3          # or sqlite
      etcdEndpoints: http://10.0.0.1:2379,http://10.0.0.2:2379
      etcdCACertFile: /etc/calico/ca.pem
      etcdCertFile: /etc/calico/cert.pem
      etcdKeyFile: /etc/calico/key.pem
      sqlitePath: /var/lib/calico/calico.db   # our extension

Every bad value is a one-line ConfigError naming the variable or field.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calico.datastore._base import Datastore
from calico.errors import ConfigError

DEFAULT_CONFIG_PATH = "/etc/calico/calicoctl.cfg"
DEFAULT_SQLITE_PATH = "/var/lib/calico/calico.db"
# libcalico-go's etcdv3 backend falls back to the local etcd too.
DEFAULT_ETCD_ENDPOINT = "http://127.0.0.1:2379"
DATASTORE_TYPES = ("sqlite", "etcdv3", "memory")

# attribute -> (environment variable, CalicoAPIConfig spec field)
_NAMES = {
    "type": ("DATASTORE_TYPE", "datastoreType"),
    "sqlite_path": ("CALICO_SQLITE_PATH", "sqlitePath"),
    "etcd_endpoints": ("ETCD_ENDPOINTS", "etcdEndpoints"),
    "etcd_ca_cert_file": ("ETCD_CA_CERT_FILE", "etcdCACertFile"),
    "etcd_cert_file": ("ETCD_CERT_FILE", "etcdCertFile"),
    "etcd_key_file": ("ETCD_KEY_FILE", "etcdKeyFile"),
}
# CalicoAPIConfig fields upstream knows that we do not implement: rejected
# with a clearer message than "unknown" when they carry a value.
_UNSUPPORTED_FIELDS = frozenset(
    {
        "etcdDiscoverySrv", "etcdUsername", "etcdPassword", "etcdKey", "etcdCert",
        "etcdCACert", "kubeconfig", "k8sAPIEndpoint", "k8sKeyFile", "k8sCertFile",
        "k8sCAFile", "k8sAPIToken", "k8sInsecureSkipTLSVerify", "k8sDisableNodePoll",
        "k8sClientQPS", "kubeconfigInline",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DatastoreConfig:
    """Where the datastore is; ``type`` picks which of the other fields matter."""

    type: str = "sqlite"
    sqlite_path: str = DEFAULT_SQLITE_PATH
    etcd_endpoints: tuple[str, ...] = (DEFAULT_ETCD_ENDPOINT,)
    etcd_ca_cert_file: str | None = None
    etcd_cert_file: str | None = None
    etcd_key_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DatastoreConfig:
        values = {attr: env.get(var, "").strip() for attr, (var, _) in _NAMES.items()}
        return _build(values, lambda attr: _NAMES[attr][0])

    @classmethod
    def from_file(cls, path: str) -> DatastoreConfig:
        spec = _read_api_config(path)
        by_field = {field: attr for attr, (_, field) in _NAMES.items()}
        values: dict[str, str] = {}
        for name, value in spec.items():
            text = "" if value is None else str(value).strip()
            if name in by_field:
                values[by_field[name]] = text
            elif name in _UNSUPPORTED_FIELDS:
                if text:
                    raise ConfigError(f"{path}: spec.{name} is not supported by this Calico")
            else:
                raise ConfigError(f"{path}: unknown CalicoAPIConfig field spec.{name}")
        return _build(values, lambda attr: f"{path}: spec.{_NAMES[attr][1]}")


def load_config(
    config_path: str | None,
    env: Mapping[str, str] = os.environ,
    *,
    default_path: str = DEFAULT_CONFIG_PATH,
) -> DatastoreConfig:
    """calicoctl's rule: ``-c FILE``, else ``default_path`` if present, else ``env``."""
    if config_path:
        if not os.path.exists(config_path):
            raise ConfigError(f"config file {config_path} does not exist")
        return DatastoreConfig.from_file(config_path)
    if os.path.exists(default_path):
        return DatastoreConfig.from_file(default_path)
    return DatastoreConfig.from_env(env)


def open_datastore(cfg: DatastoreConfig) -> Datastore:
    """Open the configured backend (etcd's HTTP stack is imported only if used)."""
    if cfg.type == "sqlite":
        from calico.datastore.sqlite import SqliteDatastore

        return SqliteDatastore(cfg.sqlite_path)
    if cfg.type == "etcdv3":
        from calico.datastore.etcd import EtcdDatastore

        return EtcdDatastore(
            list(cfg.etcd_endpoints),
            ca_cert=cfg.etcd_ca_cert_file,
            cert=cfg.etcd_cert_file,
            key=cfg.etcd_key_file,
        )
    if cfg.type == "memory":
        from calico.datastore.memory import MemoryDatastore

        return MemoryDatastore()
    raise ConfigError(f"datastore type {cfg.type!r} is not one of {', '.join(DATASTORE_TYPES)}")


# -- building and validating --------------------------------------------------


def parse_endpoint(url: str) -> tuple[str, str, int]:
    """``http(s)://host[:port]`` -> (scheme, host, port), port 2379 by default."""
    parts = urllib.parse.urlsplit(url.strip())
    try:
        port = parts.port or 2379
    except ValueError:  # port out of range or not a number
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port < 0:
        raise ConfigError(f"etcd endpoint {url!r} is not an http(s)://host:port URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"etcd endpoint {url!r} must not have a path")
    return parts.scheme, parts.hostname, port


_NameOf = Callable[[str], str]


def _build(values: Mapping[str, str], name_of: _NameOf) -> DatastoreConfig:
    """A validated config from text ``values`` (empty = unset); ``name_of(attr)``
    says how the user spelled that setting, for error messages."""
    kind = values.get("type") or "sqlite"
    if kind not in DATASTORE_TYPES:
        raise ConfigError(f"{name_of('type')}={kind} is not supported (use sqlite or etcdv3)")
    endpoints = _split_endpoints(values.get("etcd_endpoints", ""), name_of("etcd_endpoints"))
    files = {
        attr: values.get(attr) or None
        for attr in ("etcd_ca_cert_file", "etcd_cert_file", "etcd_key_file")
    }
    if kind == "etcdv3":
        _check_tls(files, name_of)
    return DatastoreConfig(
        type=kind,
        sqlite_path=values.get("sqlite_path") or DEFAULT_SQLITE_PATH,
        etcd_endpoints=endpoints or (DEFAULT_ETCD_ENDPOINT,),
        **files,
    )


def _split_endpoints(text: str, name: str) -> tuple[str, ...]:
    endpoints = tuple(part.strip() for part in text.split(",") if part.strip())
    for url in endpoints:
        try:
            parse_endpoint(url)
        except ConfigError:
            raise ConfigError(f"{name}={url} is not an http(s)://host:port URL") from None
    return endpoints


def _check_tls(files: Mapping[str, str | None], name_of: _NameOf) -> None:
    for attr, path in files.items():
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"{name_of(attr)}={path}: no such file")
    if bool(files["etcd_cert_file"]) != bool(files["etcd_key_file"]):
        raise ConfigError(
            f"{name_of('etcd_cert_file')} and {name_of('etcd_key_file')} must be given together"
        )


def _yaml_problem(exc: Exception) -> str:
    """``found character '\\t' that cannot start any token (line 5, column 1)``."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def _read_api_config(path: str) -> dict[str, Any]:
    """The ``spec`` of a CalicoAPIConfig file, after checking its envelope."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path}: expected a CalicoAPIConfig mapping")
    for key in doc:
        if key not in ("apiVersion", "kind", "metadata", "spec"):
            raise ConfigError(f"{path}: unknown CalicoAPIConfig field {key}")
    if doc.get("kind") != "CalicoAPIConfig":
        raise ConfigError(f"{path}: kind={doc.get('kind')}, expected CalicoAPIConfig")
    if doc.get("apiVersion") != "projectcalico.org/v3":
        raise ConfigError(
            f"{path}: apiVersion={doc.get('apiVersion')}, expected projectcalico.org/v3"
        )
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: spec must be a mapping")
    return spec
