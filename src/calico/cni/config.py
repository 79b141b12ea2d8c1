"""The Calico network configuration (REFERENCE.md 8.1, ``cni-plugin/pkg/types``).

A plain dataclass, deliberately: the plugin is exec'd once per container
operation and pydantic alone would double its start-up time.  Parsing mirrors
Go's ``json.Unmarshal`` into ``NetConf``: unknown keys are ignored (a config
written for upstream Calico keeps working), a value of the wrong type is
error 7 naming the field, and a value we understand but do not implement is
error 2 naming field and value (``datastore_type: kubernetes``, say).

Fields (all optional except ``name``, ``type`` and ``ipam.type``)::

    mtu                     0 = /var/lib/calico/mtu if present, else 1500
    require_mtu_file        fail if mtu is 0 and the MTU file is missing
    nodename, nodename_file (default /var/lib/calico/nodename),
    nodename_file_optional  without it, ADD/DEL wait (error 11) until
                            calico-node has written the nodename file
    datastore_type          sqlite | etcdv3 (overrides DATASTORE_TYPE)
    sqlite_path             our extension (overrides CALICO_SQLITE_PATH)
    etcd_endpoints, etcd_key_file, etcd_cert_file, etcd_ca_cert_file
    log_level               debug | info | warning (default) | error
    log_file_path           logs go there too (stderr always)
    ipam_lock_file          default /var/run/calico/ipam.lock
    policy.type             "" or k8s (k8s: profiles kns.<ns>/ksa.<ns>.<sa>)
    container_settings.allow_ip_forwarding
    ipam.type, ipam.assign_ipv4 ("true"), ipam.assign_ipv6 ("false"),
    ipam.ipv4_pools, ipam.ipv6_pools
    dns, args, runtimeConfig, prevResult  (CNI well-known / reserved keys)
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calico.cni.spec import (
    INVALID_CONFIG,
    TRY_AGAIN_LATER,
    UNSUPPORTED_FIELD,
    CniError,
)
from calico.datastore.config import DatastoreConfig
from calico.errors import ConfigError
from calico.node.mtu import DEFAULT_MTU_FILE, FALLBACK_MTU, read_mtu_file

DEFAULT_NODENAME_FILE = "/var/lib/calico/nodename"
DEFAULT_IPAM_LOCK_FILE = "/var/run/calico/ipam.lock"
DATASTORE_TYPES = ("sqlite", "etcdv3")
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LOG_LEVELS |= {"warn": logging.WARNING, "error": logging.ERROR}
# net conf key -> the environment variable it overrides (utils.CreateClient).
_DATASTORE_ENV = {
    "datastore_type": "DATASTORE_TYPE",
    "sqlite_path": "CALICO_SQLITE_PATH",
    "etcd_endpoints": "ETCD_ENDPOINTS",
    "etcd_key_file": "ETCD_KEY_FILE",
    "etcd_cert_file": "ETCD_CERT_FILE",
    "etcd_ca_cert_file": "ETCD_CA_CERT_FILE",
}


@dataclass(frozen=True)
class IPAMConf:
    type: str
    assign_ipv4: bool = True
    assign_ipv6: bool = False
    ipv4_pools: tuple[str, ...] = ()
    ipv6_pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetConf:
    name: str
    ipam: IPAMConf
    mtu: int = 0
    require_mtu_file: bool = False
    nodename: str = ""
    nodename_file: str = DEFAULT_NODENAME_FILE
    nodename_file_optional: bool = False
    hostname: str = ""  # deprecated spelling of nodename
    datastore: dict[str, str] = field(default_factory=dict)  # env var -> value
    log_level: str = "warning"
    log_file_path: str = ""
    ipam_lock_file: str = DEFAULT_IPAM_LOCK_FILE
    policy_type: str = ""
    allow_ip_forwarding: bool = False
    dns: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    runtime_config: dict[str, Any] = field(default_factory=dict)
    prev_result: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> NetConf:
        """Validate a decoded network config (``spec.decode_config`` checked the name)."""
        r = _Reader(raw)
        if not r.string("type"):
            raise CniError(INVALID_CONFIG, "invalid network config", "field type is required")
        _reject_unsupported(r)
        return cls(
            name=r.string("name"),
            ipam=_ipam(r.object("ipam")),
            mtu=_mtu(r),
            require_mtu_file=r.boolean("require_mtu_file"),
            nodename=r.string("nodename").strip(),
            nodename_file=r.string("nodename_file") or DEFAULT_NODENAME_FILE,
            nodename_file_optional=r.boolean("nodename_file_optional"),
            hostname=r.string("hostname").strip(),
            datastore=_datastore_overrides(r),
            log_level=_log_level(r),
            log_file_path=r.string("log_file_path"),
            ipam_lock_file=r.string("ipam_lock_file") or DEFAULT_IPAM_LOCK_FILE,
            policy_type=_policy_type(r),
            allow_ip_forwarding=_Reader(
                r.object("container_settings"), "container_settings."
            ).boolean("allow_ip_forwarding"),
            dns=r.object("dns"),
            args=r.object("args"),
            runtime_config=r.object("runtimeConfig"),
            prev_result=r.object("prevResult") or None,
        )

    def datastore_config(self, env: Mapping[str, str] = os.environ) -> DatastoreConfig:
        """Where the datastore is: the environment, overridden by this config."""
        try:
            return DatastoreConfig.from_env({**env, **self.datastore})
        except ConfigError as exc:
            raise CniError(INVALID_CONFIG, "invalid datastore configuration", str(exc)) from None

    def resolve_nodename(self) -> str:
        """The Calico node name: ``nodename``, the nodename file, ``hostname``, the OS."""
        if not self.nodename_file_optional and not os.path.exists(self.nodename_file):
            raise CniError(
                TRY_AGAIN_LATER,
                f"{self.nodename_file} does not exist",
                "check that calico-node is running and has written its node name",
            )
        return (
            self.nodename
            or _read_first_line(self.nodename_file)
            or self.hostname
            or (socket.gethostname())
        )

    def resolve_mtu(self) -> int:
        """``mtu``, else the MTU file calico-node writes, else 1500."""
        if self.mtu > 0:
            return self.mtu
        from_file = read_mtu_file(DEFAULT_MTU_FILE)
        if from_file is None and self.require_mtu_file:
            raise CniError(INVALID_CONFIG, "MTU file is required", f"{DEFAULT_MTU_FILE} is missing")
        return from_file or FALLBACK_MTU


def configure_logging(conf: NetConf) -> None:
    """Logs to stderr (stdout carries the result) and to ``log_file_path`` if set."""
    root = logging.getLogger()
    root.setLevel(_LOG_LEVELS[conf.log_level])
    fmt = logging.Formatter(f"%(asctime)s [%(levelname)s] {os.getpid()} %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if conf.log_file_path:
        try:
            os.makedirs(os.path.dirname(conf.log_file_path) or ".", exist_ok=True)
            handlers.append(logging.FileHandler(conf.log_file_path))
        except OSError as exc:
            print(f"cannot open log file {conf.log_file_path}: {exc}", file=sys.stderr)
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)


# -- field parsing -------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object; every type error names the field (error 7)."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "") -> None:
        self.raw = raw
        self.prefix = prefix

    def _get(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        value = self.raw.get(key)
        # JSON true/false decode to bool, which Python also counts as an int.
        wrong_kind = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        if value is not None and wrong_kind:
            raise CniError(
                INVALID_CONFIG,
                "invalid network config",
                f"field {self.prefix}{key} must be {what} (value {value!r})",
            )
        return value

    def string(self, key: str) -> str:
        return str(self._get(key, (str,), "a string") or "")

    def integer(self, key: str) -> int:
        return int(self._get(key, (int,), "an integer") or 0)

    def boolean(self, key: str) -> bool:
        return bool(self._get(key, (bool,), "true or false"))

    def object(self, key: str) -> dict[str, Any]:
        return dict(self._get(key, (dict,), "an object") or {})

    def strings(self, key: str) -> tuple[str, ...]:
        items = self._get(key, (list,), "a list of strings") or []
        if not all(isinstance(i, str) for i in items):
            raise CniError(
                INVALID_CONFIG,
                "invalid network config",
                f"field {self.prefix}{key} must be a list of strings (value {items!r})",
            )
        return tuple(items)

    def flag(self, key: str, default: bool) -> bool:
        """Calico's ``"true"``/``"false"`` strings (a JSON boolean is accepted too)."""
        value = self._get(key, (str, bool), '"true" or "false"')
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        text = str(value)
        if text.lower() not in ("true", "false"):
            raise CniError(
                INVALID_CONFIG,
                "invalid network config",
                f'field {self.prefix}{key} must be "true" or "false" (value {value!r})',
            )
        return text.lower() == "true"


def _ipam(raw: dict[str, Any]) -> IPAMConf:
    r = _Reader(raw, "ipam.")
    kind = r.string("type")
    if not kind:
        raise CniError(INVALID_CONFIG, "invalid network config", "field ipam.type is required")
    if "/" in kind:
        raise CniError(INVALID_CONFIG, "invalid network config", f"ipam.type {kind!r} has a /")
    return IPAMConf(
        type=kind,
        assign_ipv4=r.flag("assign_ipv4", True),
        assign_ipv6=r.flag("assign_ipv6", False),
        ipv4_pools=r.strings("ipv4_pools"),
        ipv6_pools=r.strings("ipv6_pools"),
    )


def _mtu(r: _Reader) -> int:
    mtu = r.integer("mtu")
    if mtu < 0:
        raise CniError(INVALID_CONFIG, "invalid network config", f"mtu={mtu} is negative")
    return mtu


def _reject_unsupported(r: _Reader) -> None:
    """Upstream features this Calico does not have: refused by name, not ignored."""
    device = r.string("device_type")
    if device not in ("", "veth"):
        _unsupported(f"device_type={device} (only veth)")
    if r.string("mode"):
        _unsupported(f"mode={r.string('mode')}")
    features = _Reader(r.object("feature_control"), "feature_control.")
    for flag in ("ip_addrs_no_ipam", "floating_ips"):
        if features.boolean(flag):
            _unsupported(f"feature_control.{flag}=true")


def _unsupported(what: str) -> None:
    raise CniError(UNSUPPORTED_FIELD, "unsupported field in network config", what)


def _datastore_overrides(r: _Reader) -> dict[str, str]:
    overrides = {var: r.string(key) for key, var in _DATASTORE_ENV.items() if r.string(key)}
    kind = overrides.get("DATASTORE_TYPE")
    if kind is not None and kind not in DATASTORE_TYPES:
        _unsupported(
            f"datastore_type={kind} (this Calico supports {' and '.join(DATASTORE_TYPES)})"
        )
    return overrides


def _log_level(r: _Reader) -> str:
    level = (r.string("log_level") or "warning").lower()
    if level not in _LOG_LEVELS:
        raise CniError(INVALID_CONFIG, "invalid network config", f"log_level={level}")
    return "warning" if level == "warn" else level


def _policy_type(r: _Reader) -> str:
    kind = _Reader(r.object("policy"), "policy.").string("type")
    if kind not in ("", "k8s"):
        _unsupported(f"policy.type={kind}")
    return kind


def _read_first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip()
    except OSError:
        return ""
