"""Address types and the text forms IPAM reads and writes."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from calico.errors import IPAMError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress:
    """An address from ``10.0.0.5``, ``10.0.0.5/26`` or ``fd00::5/122``."""
    try:
        return ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        raise IPAMError(f"invalid IP address {text!r}") from None


def ip_order(text: str) -> tuple[int, int]:
    """Sort key for address text: IPv4 before IPv6, then numerically."""
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes' metav1.Time marshals."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
