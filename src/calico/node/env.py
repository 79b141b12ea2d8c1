"""calico-node's environment variables, parsed and checked before anything is written.

``IP`` (an IPv4 address or CIDR, ``autodetect``, or ``none``),
``IP_AUTODETECTION_METHOD``, ``AS``, ``CALICO_RR_CLUSTER_ID``,
``CALICO_NETWORKING_BACKEND`` (``bird``, ``vxlan`` or ``none``),
``CLUSTER_TYPE`` and the default pools' ``CALICO_IPV<n>POOL_*`` /
``NO_DEFAULT_POOLS``.  Any invalid value is a one-line ConfigError naming
the variable and its value, so a typo stops calico-node at once instead of
half-registering the host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from calico.errors import ConfigError
from calico.node._docs import Document, new_doc
from calico.resources import parse_resource
from calico.selector import parse as parse_selector

BACKENDS = ("bird", "vxlan", "none")
_ENCAP_MODES = {"": "Never", "off": "Never", "never": "Never", "always": "Always",
                "crosssubnet": "CrossSubnet", "cross-subnet": "CrossSubnet"}  # fmt: skip
_AUTODETECT_KINDS = ("interface", "skip-interface", "cidr", "can-reach")
_BLOCK_SIZES = {4: (20, 32), 6: (116, 128)}  # the IPPool model's ranges
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


@dataclass(frozen=True, slots=True)
class DefaultPool:
    """A default IP pool, as ``CALICO_IPV<n>POOL_*`` describe it."""

    name: str
    cidr: str
    block_size: int
    ipip_mode: str = "Never"
    vxlan_mode: str = "Never"
    nat_outgoing: bool = False
    node_selector: str = ""
    disable_bgp_export: bool = False

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.cidr).version

    def document(self) -> Document:
        spec = {
            "cidr": self.cidr, "blockSize": self.block_size, "ipipMode": self.ipip_mode,
            "vxlanMode": self.vxlan_mode, "natOutgoing": self.nat_outgoing,
            "nodeSelector": self.node_selector, "disableBGPExport": self.disable_bgp_export,
        }  # fmt: skip
        return new_doc("IPPool", self.name, spec)


@dataclass(frozen=True, slots=True)
class NodeEnv:
    """calico-node's environment variables, parsed and checked."""

    ip: str = ""  # "" (unset), "autodetect", "none", or an IPv4 address / CIDR
    ip_autodetection_method: str = "first-found"
    as_number: int | None = None
    rr_cluster_id: str = ""
    backend: str = "bird"
    default_pools: tuple[DefaultPool, ...] = ()
    cluster_type: str = ""

    @property
    def networking(self) -> bool:
        """False in policy-only mode: then the Node carries no BGP data."""
        return self.backend != "none"

    @property
    def runs_bgp(self) -> bool:
        return self.backend == "bird"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NodeEnv:
        """ConfigError naming the variable and its value for anything invalid."""
        backend = _get_env(env, "CALICO_NETWORKING_BACKEND") or "bird"
        if backend not in BACKENDS:
            raise ConfigError(
                f"CALICO_NETWORKING_BACKEND={backend}: must be one of {', '.join(BACKENDS)}"
            )
        return cls(
            ip=_ip_env(env),
            ip_autodetection_method=_autodetection_env(env),
            as_number=_as_env(env),
            rr_cluster_id=_rr_env(env),
            backend=backend,
            default_pools=_pools_env(env),
            cluster_type=_get_env(env, "CLUSTER_TYPE"),
        )


def _get_env(env: Mapping[str, str], var: str) -> str:
    return env.get(var, "").strip()


def _ip_env(env: Mapping[str, str]) -> str:
    value = _get_env(env, "IP")
    if value in ("", "autodetect", "none"):
        return value
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        iface = None
    if iface is None or iface.version != 4:
        raise ConfigError(f"IP={value}: not an IPv4 address or CIDR (or autodetect, none)")
    return value


def _autodetection_env(env: Mapping[str, str]) -> str:
    """``IP_AUTODETECTION_METHOD``, checked now although it is used only if detecting."""
    method = _get_env(env, "IP_AUTODETECTION_METHOD") or "first-found"
    if method == "first-found":
        return method
    kind, sep, arg = method.partition("=")
    items = [item.strip() for item in arg.split(",") if item.strip()]
    if kind not in _AUTODETECT_KINDS or not sep or not items:
        raise ConfigError(
            f"IP_AUTODETECTION_METHOD={method}: must be first-found, interface=REGEX, "
            "skip-interface=REGEX, cidr=CIDR or can-reach=DEST"
        )
    for item in items:
        try:
            if kind == "cidr":
                ipaddress.ip_network(item, strict=False)
            elif kind != "can-reach":
                re.compile(item)
        except (ValueError, re.error):
            what = "CIDR" if kind == "cidr" else "regex"
            raise ConfigError(
                f"IP_AUTODETECTION_METHOD={method}: invalid {what} {item!r}"
            ) from None
    return method


def _as_env(env: Mapping[str, str]) -> int | None:
    value = _get_env(env, "AS")
    if not value:
        return None
    high, dot, low = value.partition(".")
    try:
        number = (int(high) << 16) + int(low) if dot else int(value)
        ok = (not dot or max(int(high), int(low)) <= 0xFFFF) and 0 < number <= 2**32 - 1
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"AS={value}: not an AS number (1-4294967295 or dotted a.b)")
    return number


def _rr_env(env: Mapping[str, str]) -> str:
    value = _get_env(env, "CALICO_RR_CLUSTER_ID")
    if value:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ConfigError(f"CALICO_RR_CLUSTER_ID={value}: not an IPv4 dotted quad") from None
    return value


def _bool_env(env: Mapping[str, str], var: str, default: bool) -> bool:
    value = _get_env(env, var).lower()
    if not value:
        return default
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{var}={env[var]}: not a boolean (true or false)")
    return value in _TRUE


def _pools_env(env: Mapping[str, str]) -> tuple[DefaultPool, ...]:
    v4, v6 = _get_env(env, "CALICO_IPV4POOL_CIDR"), _get_env(env, "CALICO_IPV6POOL_CIDR")
    if _bool_env(env, "NO_DEFAULT_POOLS", False):
        if v4 or v6:
            raise ConfigError(
                "NO_DEFAULT_POOLS=true cannot be combined with CALICO_IPV4POOL_CIDR "
                "or CALICO_IPV6POOL_CIDR"
            )
        return ()
    pools = []
    if v4 != "none":
        pools.append(_pool_env(env, 4, v4 or "192.168.0.0/16"))
    if v6 and v6 != "none":
        pools.append(_pool_env(env, 6, v6))
    return tuple(pools)


def _pool_env(env: Mapping[str, str], version: int, cidr_text: str) -> DefaultPool:
    prefix = f"CALICO_IPV{version}POOL_"
    try:
        network = ipaddress.ip_network(cidr_text, strict=False)
    except ValueError:
        network = None
    if network is None or network.version != version or "/" not in cidr_text:
        raise ConfigError(f"{prefix}CIDR={cidr_text}: not an IPv{version} CIDR")
    block_text = _get_env(env, f"{prefix}BLOCK_SIZE") or ("26" if version == 4 else "122")
    if not block_text.isdigit():
        raise ConfigError(f"{prefix}BLOCK_SIZE={block_text}: not a number")
    low, high = _BLOCK_SIZES[version]
    if not low <= int(block_text) <= high:
        raise ConfigError(
            f"{prefix}BLOCK_SIZE={block_text}: blockSize must be between {low} and {high} "
            f"for IPv{version} pools"
        )
    ipip = _encap_env(env, f"{prefix}IPIP") if version == 4 else "Never"
    vxlan = _encap_env(env, f"{prefix}VXLAN")
    if ipip != "Never" and vxlan != "Never":
        raise ConfigError(f"{prefix}IPIP and {prefix}VXLAN cannot both be enabled")
    selector = _get_env(env, f"{prefix}NODE_SELECTOR")
    try:
        parse_selector(selector)
    except ValueError as exc:
        raise ConfigError(f"{prefix}NODE_SELECTOR={selector}: {exc}") from None
    pool = DefaultPool(
        name=f"default-ipv{version}-ippool",
        cidr=str(network),
        block_size=int(block_text),
        ipip_mode=ipip,
        vxlan_mode=vxlan,
        nat_outgoing=_bool_env(env, f"{prefix}NAT_OUTGOING", version == 4),
        node_selector=selector,
        disable_bgp_export=_bool_env(env, f"{prefix}DISABLE_BGP_EXPORT", False),
    )
    try:  # the IPPool model's own rules: block size range, link-local, size
        parse_resource(pool.document())
    except ValueError as exc:
        raise ConfigError(f"default IPv{version} pool from {prefix}*: {exc}") from None
    return pool


def _encap_env(env: Mapping[str, str], var: str) -> str:
    value = _get_env(env, var)
    mode = _ENCAP_MODES.get(value.lower())
    if mode is None:
        raise ConfigError(f"{var}={value}: must be one of never, always, cross-subnet")
    return mode
