"""Host IP autodetection, with calico/node's methods.

``IP_AUTODETECTION_METHOD`` (and ``IP6_AUTODETECTION_METHOD``) select how the
node's BGP address is chosen:

* ``first-found`` (default): the first global address on any interface not
  matching the built-in exclusion list (docker, veth, cali*, tunnels, ...).
* ``interface=REGEX[,REGEX]``: the first address on an interface whose name
  matches one of the regexes.
* ``skip-interface=REGEX[,REGEX]``: like first-found, also skipping these.
* ``cidr=CIDR[,CIDR]``: the first address inside one of the CIDRs.
* ``can-reach=DEST``: the source address the kernel picks to reach DEST
  (a UDP ``connect``, which sends nothing).

The result is the address in CIDR form with the interface's prefix length
(e.g. ``10.0.0.5/24``): Node.spec.bgp.ipv4Address carries the subnet, which
CrossSubnet encapsulation uses to decide who is "local".
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from calico.errors import ConfigError

DEFAULT_INTERFACES_TO_EXCLUDE = (
    r"^docker.*", r"^cbr.*", r"^dummy.*", r"^podman.*",
    r"^virbr.*", r"^lxcbr.*", r"^veth.*", r"^lo", r"^br-.*",
    r"^cali.*", r"^tunl.*", r"^flannel.*", r"^kube-ipvs.*", r"^cni.*",
    r"^vxlan\.calico.*", r"^vxlan-v6\.calico.*", r"^wireguard\.cali.*", r"^wg-v6\.cali.*",
    r"^nodelocaldns.*",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    cidrs: tuple[str, ...]  # "10.0.0.5/24", "fd00::5/64"


Enumerator = Callable[[], Sequence[Interface]]


def list_interfaces() -> list[Interface]:
    """Interfaces of the current network namespace, in index order."""
    out = subprocess.run(
        ["ip", "-j", "addr", "show"], check=True, capture_output=True, text=True
    ).stdout
    result = []
    for link in json.loads(out or "[]"):
        cidrs = tuple(
            f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if "local" in a
        )
        result.append(Interface(link["ifname"], cidrs))
    return result


def autodetect(
    method: str, version: int = 4, enumerate_ifaces: Enumerator = list_interfaces
) -> str:
    """Return the node address (CIDR form) chosen by ``method``."""
    method = method.strip() or "first-found"
    if method == "first-found":
        return _first(enumerate_ifaces(), (), DEFAULT_INTERFACES_TO_EXCLUDE, (), version, method)
    kind, sep, arg = method.partition("=")
    if not sep or not arg.strip():
        raise ConfigError(f"IP_AUTODETECTION_METHOD: unknown method {method!r}")
    items = [s for s in re.split(r"\s*,\s*", arg.strip()) if s]
    if kind == "interface":
        return _first(enumerate_ifaces(), _regexes(items, method), (), (), version, method)
    if kind == "skip-interface":
        excl = (*DEFAULT_INTERFACES_TO_EXCLUDE, *items)
        return _first(enumerate_ifaces(), (), _regexes(excl, method), (), version, method)
    if kind == "cidr":
        nets = tuple(_network(item, method) for item in items)
        return _first(enumerate_ifaces(), (), (), nets, version, method)
    if kind == "can-reach":
        return _by_reach(items[0], version, enumerate_ifaces())
    raise ConfigError(f"IP_AUTODETECTION_METHOD: unknown method {method!r}")


def _regexes(items: Sequence[str], method: str) -> tuple[str, ...]:
    for item in items:
        try:
            re.compile(item)
        except re.error:
            raise ConfigError(
                f"IP_AUTODETECTION_METHOD: invalid regex {item!r} in {method!r}"
            ) from None
    return tuple(items)


def _network(item: str, method: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ConfigError(f"IP_AUTODETECTION_METHOD: invalid CIDR {item!r} in {method!r}") from None


def _first(
    ifaces: Sequence[Interface],
    include: Sequence[str],
    exclude: Sequence[str],
    nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    version: int,
    method: str,
) -> str:
    for iface in ifaces:
        if include and not any(re.match(rx, iface.name) for rx in include):
            continue
        if any(re.match(rx, iface.name) for rx in exclude):
            continue
        for cidr in iface.cidrs:
            addr = ipaddress.ip_interface(cidr)
            if addr.version != version or not _usable(addr.ip):
                continue
            if nets and not any(addr.ip in net for net in nets):
                continue
            return cidr
    raise ConfigError(f"IP_AUTODETECTION_METHOD={method}: no IPv{version} address found")


def _usable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


def _by_reach(dest: str, version: int, ifaces: Sequence[Interface]) -> str:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((dest, 80))  # UDP connect: a route lookup, no packet sent
            local = sock.getsockname()[0]
    except OSError as exc:
        raise ConfigError(f"IP_AUTODETECTION_METHOD=can-reach={dest}: {exc.strerror}") from None
    for iface in ifaces:
        for cidr in iface.cidrs:
            if str(ipaddress.ip_interface(cidr).ip) == local:
                return cidr
    raise ConfigError(
        f"IP_AUTODETECTION_METHOD=can-reach={dest}: source {local} is on no local interface"
    )
