"""Felix configuration with Calico's precedence.

Each parameter is looked up, highest priority first, in:

1. the environment, ``FELIX_<NAME>`` (name matched case-insensitively);
2. the config file (``/etc/calico/felix.cfg``; INI, ``[global]`` section);
3. the per-host FelixConfiguration resource ``node.<hostname>``;
4. the global FelixConfiguration resource ``default``;
5. the built-in default.

Environment and file values are strings and are parsed here; datastore values
are the v3 JSON (camelCase field, typed, durations as Go strings like
``90s``).  A value that does not parse is a ConfigError naming the source, the
parameter and the value: felix refuses to start rather than run with a guess.
"""

from __future__ import annotations

import configparser
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from calico.errors import ConfigError

DEFAULT_CONFIG_FILE = "/etc/calico/felix.cfg"

_FAILSAFE_IN = "tcp:22,udp:68,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667"
_FAILSAFE_OUT = "udp:53,udp:67,tcp:179,tcp:2379,tcp:2380,tcp:5473,tcp:6443,tcp:6666,tcp:6667"


@dataclass(frozen=True, slots=True)
class ProtoPort:
    protocol: str
    port: int
    net: str = ""


@dataclass(frozen=True)
class FelixConfig:
    """Resolved configuration.  Field names are the snake_case param names."""

    felix_hostname: str
    interface_prefix: tuple[str, ...] = ("cali",)
    default_endpoint_to_host_action: str = "DROP"
    iptables_filter_allow_action: str = "ACCEPT"
    iptables_filter_deny_action: str = "DROP"
    iptables_mark_mask: int = 0xFFFF0000
    iptables_refresh_interval: float = 180.0
    iptables_post_write_check_interval: float = 5.0
    iptables_backend: str = "auto"
    chain_insert_mode: str = "insert"
    route_refresh_interval: float = 90.0
    ipsets_refresh_interval: float = 90.0
    failsafe_inbound_host_ports: tuple[ProtoPort, ...] = ()
    failsafe_outbound_host_ports: tuple[ProtoPort, ...] = ()
    ipip_enabled: bool | None = None
    ipip_mtu: int = 0
    vxlan_enabled: bool | None = None
    vxlan_mtu: int = 0
    vxlan_port: int = 4789
    vxlan_vni: int = 4096
    allow_vxlan_packets_from_workloads: bool = False
    allow_ipip_packets_from_workloads: bool = False
    nat_outgoing_address: str = ""
    log_prefix: str = "calico-packet"
    log_severity_screen: str = "INFO"
    log_file_path: str = ""
    reporting_interval: float = 30.0
    reporting_ttl: float = 90.0
    endpoint_reporting_enabled: bool = False
    endpoint_reporting_delay: float = 1.0
    endpoint_status_path_prefix: str = "/var/run/calico"
    health_enabled: bool = False
    health_host: str = "localhost"
    health_port: int = 9099
    prometheus_metrics_enabled: bool = False
    prometheus_metrics_host: str = ""
    prometheus_metrics_port: int = 9091
    device_route_protocol: int = 80
    remove_external_routes: bool = True
    ipv6_support: bool = True
    disable_conntrack_invalid_check: bool = False
    openstack_region: str = ""
    metadata_addr: str = "127.0.0.1"
    metadata_port: int = 8775
    mtu_iface_pattern: str = r"^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)"
    route_source: str = "CalicoIPAM"


# --- parsers: text (env / file) and JSON (datastore) ------------------------

Parser = Callable[[Any], Any]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f"):
        return False
    raise ValueError("expected a boolean (true/false)")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        return value
    return int(str(value).strip(), 0)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _as_seconds(value: Any) -> float:
    """Plain numbers are seconds (env/file); ``1m30s`` style is a Go duration."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("expected seconds or a duration such as 90s or 1m30s")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _as_prefixes(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    prefixes = tuple(str(p).strip() for p in items if str(p).strip())
    if not prefixes:
        raise ValueError("expected a comma-separated list of interface prefixes")
    return prefixes


def _as_ports(value: Any) -> tuple[ProtoPort, ...]:
    if isinstance(value, list):
        return tuple(_port_from_json(item) for item in value)
    text = str(value).strip()
    if text.lower() == "none" or not text:
        return ()
    return tuple(_port_from_text(item.strip()) for item in text.split(","))


def _port_from_text(item: str) -> ProtoPort:
    proto, _, port = item.partition(":")
    if not port:
        proto, port = "tcp", proto
    return _proto_port(proto, port, "")


def _port_from_json(item: Any) -> ProtoPort:
    if not isinstance(item, Mapping):
        raise ValueError("expected a list of {protocol, port}")
    return _proto_port(str(item.get("protocol", "tcp")), item.get("port"), item.get("net", ""))


def _proto_port(proto: str, port: Any, net: Any) -> ProtoPort:
    proto = proto.strip().lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"protocol {proto!r} is not tcp, udp or sctp")
    number = _as_int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range 1-65535")
    return ProtoPort(proto, number, str(net or ""))


def _enum(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        text = str(value).strip().upper()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _lower_enum(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _as_str(value: Any) -> str:
    return str(value).strip()


@dataclass(frozen=True, slots=True)
class _Param:
    name: str  # Calico's parameter name (env FELIX_<NAME>, file key)
    attr: str  # FelixConfig field
    v3: str  # FelixConfiguration spec field
    parse: Parser


_PARAMS: tuple[_Param, ...] = (
    _Param("FelixHostname", "felix_hostname", "", _as_str),
    _Param("InterfacePrefix", "interface_prefix", "interfacePrefix", _as_prefixes),
    _Param(
        "DefaultEndpointToHostAction",
        "default_endpoint_to_host_action",
        "defaultEndpointToHostAction",
        _enum("DROP", "RETURN", "ACCEPT"),
    ),
    _Param(
        "IptablesFilterAllowAction",
        "iptables_filter_allow_action",
        "iptablesFilterAllowAction",
        _enum("ACCEPT", "RETURN"),
    ),
    _Param(
        "IptablesFilterDenyAction",
        "iptables_filter_deny_action",
        "iptablesFilterDenyAction",
        _enum("DROP", "REJECT"),
    ),
    _Param("IptablesMarkMask", "iptables_mark_mask", "iptablesMarkMask", _as_int),
    _Param(
        "IptablesRefreshInterval",
        "iptables_refresh_interval",
        "iptablesRefreshInterval",
        _as_seconds,
    ),
    _Param(
        "IptablesPostWriteCheckIntervalSecs",
        "iptables_post_write_check_interval",
        "iptablesPostWriteCheckInterval",
        _as_seconds,
    ),
    _Param(
        "IptablesBackend",
        "iptables_backend",
        "iptablesBackend",
        _lower_enum("auto", "nft", "legacy"),
    ),
    _Param(
        "ChainInsertMode", "chain_insert_mode", "chainInsertMode", _lower_enum("insert", "append")
    ),
    _Param("RouteRefreshInterval", "route_refresh_interval", "routeRefreshInterval", _as_seconds),
    _Param(
        "IpsetsRefreshInterval", "ipsets_refresh_interval", "ipsetsRefreshInterval", _as_seconds
    ),
    _Param(
        "FailsafeInboundHostPorts",
        "failsafe_inbound_host_ports",
        "failsafeInboundHostPorts",
        _as_ports,
    ),
    _Param(
        "FailsafeOutboundHostPorts",
        "failsafe_outbound_host_ports",
        "failsafeOutboundHostPorts",
        _as_ports,
    ),
    _Param("IpInIpEnabled", "ipip_enabled", "ipipEnabled", _as_bool),
    _Param("IpInIpMtu", "ipip_mtu", "ipipMTU", _as_int),
    _Param("VXLANEnabled", "vxlan_enabled", "vxlanEnabled", _as_bool),
    _Param("VXLANMTU", "vxlan_mtu", "vxlanMTU", _as_int),
    _Param("VXLANPort", "vxlan_port", "vxlanPort", _as_int),
    _Param("VXLANVNI", "vxlan_vni", "vxlanVNI", _as_int),
    _Param(
        "AllowVXLANPacketsFromWorkloads",
        "allow_vxlan_packets_from_workloads",
        "allowVXLANPacketsFromWorkloads",
        _as_bool,
    ),
    _Param(
        "AllowIPIPPacketsFromWorkloads",
        "allow_ipip_packets_from_workloads",
        "allowIPIPPacketsFromWorkloads",
        _as_bool,
    ),
    _Param("NATOutgoingAddress", "nat_outgoing_address", "natOutgoingAddress", _as_str),
    _Param("LogPrefix", "log_prefix", "logPrefix", _as_str),
    _Param(
        "LogSeverityScreen",
        "log_severity_screen",
        "logSeverityScreen",
        _enum("DEBUG", "INFO", "WARNING", "ERROR", "FATAL"),
    ),
    _Param("LogFilePath", "log_file_path", "logFilePath", _as_str),
    _Param("ReportingIntervalSecs", "reporting_interval", "reportingInterval", _as_seconds),
    _Param("ReportingTTLSecs", "reporting_ttl", "reportingTTL", _as_seconds),
    _Param(
        "EndpointReportingEnabled",
        "endpoint_reporting_enabled",
        "endpointReportingEnabled",
        _as_bool,
    ),
    _Param(
        "EndpointReportingDelaySecs",
        "endpoint_reporting_delay",
        "endpointReportingDelay",
        _as_seconds,
    ),
    _Param(
        "EndpointStatusPathPrefix",
        "endpoint_status_path_prefix",
        "endpointStatusPathPrefix",
        _as_str,
    ),
    _Param("HealthEnabled", "health_enabled", "healthEnabled", _as_bool),
    _Param("HealthHost", "health_host", "healthHost", _as_str),
    _Param("HealthPort", "health_port", "healthPort", _as_int),
    _Param(
        "PrometheusMetricsEnabled",
        "prometheus_metrics_enabled",
        "prometheusMetricsEnabled",
        _as_bool,
    ),
    _Param("PrometheusMetricsHost", "prometheus_metrics_host", "prometheusMetricsHost", _as_str),
    _Param("PrometheusMetricsPort", "prometheus_metrics_port", "prometheusMetricsPort", _as_int),
    _Param("DeviceRouteProtocol", "device_route_protocol", "deviceRouteProtocol", _as_int),
    _Param("RemoveExternalRoutes", "remove_external_routes", "removeExternalRoutes", _as_bool),
    _Param("Ipv6Support", "ipv6_support", "ipv6Support", _as_bool),
    _Param(
        "DisableConntrackInvalidCheck",
        "disable_conntrack_invalid_check",
        "disableConntrackInvalidCheck",
        _as_bool,
    ),
    _Param("OpenstackRegion", "openstack_region", "openstackRegion", _as_str),
    _Param("MetadataAddr", "metadata_addr", "metadataAddr", _as_str),
    _Param("MetadataPort", "metadata_port", "metadataPort", _as_int),
    _Param("MTUIfacePattern", "mtu_iface_pattern", "mtuIfacePattern", _as_str),
    _Param("RouteSource", "route_source", "routeSource", _as_str),
)
_BY_LOWER_NAME = {p.name.lower(): p for p in _PARAMS}
PARAM_NAMES = tuple(p.name for p in _PARAMS)


def load_config_file(path: str) -> dict[str, str]:
    """Read a felix.cfg INI file; a missing file is an empty source."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return {}
    except configparser.Error as exc:
        raise ConfigError(f"felix config file {path}: {exc.message}") from None
    return dict(parser["global"]) if parser.has_section("global") else {}


def resolve(
    *,
    env: Mapping[str, str],
    file_values: Mapping[str, str] | None = None,
    host_spec: Mapping[str, Any] | None = None,
    global_spec: Mapping[str, Any] | None = None,
    hostname: str | None = None,
) -> FelixConfig:
    """Merge every source by precedence into a FelixConfig."""
    values: dict[str, Any] = {}
    # Lowest priority first, so that later sources overwrite.
    for source, spec in (
        ("FelixConfiguration default", global_spec),
        ("FelixConfiguration node", host_spec),
    ):
        values.update(_from_spec(source, spec or {}))
    values.update(_from_text("config file", file_values or {}, prefix=""))
    values.update(_from_text("environment", env, prefix="FELIX_"))
    values.setdefault("felix_hostname", hostname or env.get("NODENAME") or socket.gethostname())
    defaults = FelixConfig(felix_hostname="")
    for name in ("failsafe_inbound_host_ports", "failsafe_outbound_host_ports"):
        if name not in values:
            values[name] = _as_ports(_FAILSAFE_IN if "inbound" in name else _FAILSAFE_OUT)
    known = {f.name for f in fields(defaults)}
    return FelixConfig(**{k: v for k, v in values.items() if k in known})


def _from_text(source: str, items: Mapping[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in items.items():
        if prefix and not key.upper().startswith(prefix):
            continue
        param = _BY_LOWER_NAME.get(key[len(prefix) :].lower())
        if param is None:
            continue  # unknown keys are ignored, as Felix does (it logs them)
        if str(raw).strip() == "" and param.attr != "felix_hostname":
            continue
        out[param.attr] = _parse(param, raw, f"{source} {prefix}{param.name}")
    return out


def _from_spec(source: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for param in _PARAMS:
        if param.v3 and param.v3 in spec and spec[param.v3] is not None:
            out[param.attr] = _parse(param, spec[param.v3], f"{source} spec.{param.v3}")
    return out


def _parse(param: _Param, raw: Any, where: str) -> Any:
    try:
        return param.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: invalid value {raw!r}: {exc}") from None
