"""IP address and CIDR parsing with Calico's (Go ``net`` package) rules.

Differences from a bare ``ipaddress`` call that matter here:

* a CIDR field also accepts a plain address, meaning a single host
  (``10.0.0.1`` is ``10.0.0.1/32``; Calico's ``ParseCIDROrIP``);
* only ``addr/prefixlen`` is accepted (no ``addr/netmask`` form, no IPv6
  zone ``%eth0``), as Go's ``net.ParseCIDR`` does;
* "strictly masked" means no host bits set (``10.0.0.0/8``, not ``10.0.0.1/8``).

Normalised text is Python's canonical form, which equals Go's ``String()``
(lower-case, compressed IPv6).
"""

from __future__ import annotations

import ipaddress
import re

from calico.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_PREFIX_RE = re.compile(r"^[0-9]{1,3}$")
# BGPPeer peerIP with a port: "1.2.3.4:179" or "[2001:db8::1]:179".
_V4_PORT_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$")
_V6_PORT_RE = re.compile(r"^\[([0-9a-fA-F:.]+)\]:(\d+)$")


def parse_ip(text: str) -> IPAddress:
    """An IPv4 or IPv6 address; ValueError naming the problem otherwise."""
    if "%" in text:
        raise ValueError("invalid IP address (zone indexes are not allowed)")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("invalid IP address") from None


def parse_cidr(text: str) -> IPInterface:
    """``addr/len`` or a bare address (full-length prefix), host bits kept."""
    address, slash, prefix = text.partition("/")
    ip = _parse_cidr_address(address)
    if not slash:
        return ipaddress.ip_interface(ip)
    if not _PREFIX_RE.match(prefix) or int(prefix) > ip.max_prefixlen:
        raise ValueError(f"invalid CIDR (prefix length must be 0 to {ip.max_prefixlen})")
    return ipaddress.ip_interface(f"{ip}/{int(prefix)}")


def _parse_cidr_address(address: str) -> IPAddress:
    try:
        return parse_ip(address)
    except ValueError:
        raise ValueError("invalid CIDR") from None


def is_strictly_masked(text: str) -> bool:
    """True if ``text`` parses as a CIDR (or address) with no host bits set."""
    try:
        interface = parse_cidr(text)
    except ValueError:
        return False
    return interface.ip == interface.network.network_address


def normalise_cidr(text: str, *, strict: bool = False) -> str:
    """Canonical ``addr/len`` text for a CIDR or a bare address.

    A bare address gets a /32 (IPv4) or /128 (IPv6) mask.  With ``strict``,
    host bits must be zero.  Raises :class:`calico.errors.ValidationError`.
    """
    try:
        interface = parse_cidr(text)
    except ValueError as exc:
        raise ValidationError(str(exc), value=text) from None
    if strict and interface.ip != interface.network.network_address:
        raise ValidationError(
            f"CIDR is not strictly masked (did you mean {interface.network}?)", value=text
        )
    return str(interface)


def ip_version(text: str) -> int:
    """4 or 6 for an address or CIDR already known to be valid."""
    return parse_cidr(text).version


def split_peer_ip(text: str) -> tuple[str, int | None]:
    """BGPPeer ``peerIP``: ``IP``, ``IPv4:port`` or ``[IPv6]:port``.

    Returns the address text and the port (None when absent).
    """
    v4 = _V4_PORT_RE.match(text)
    v6 = _V6_PORT_RE.match(text)
    if v4 or v6:
        host, _, port_text = text.rpartition(":")
        host = host.strip("[]")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError("invalid port in peer address (must be 1 to 65535)")
        parse_ip(host)
        return host, port
    parse_ip(text)
    return text, None
