"""Field types shared by the kinds: names, selectors, addresses, durations.

Each is an ``Annotated`` type whose validator raises ValueError with a short
reason; the error converter attaches the field path and value.  CIDRs, which
Calico accepts in several spellings, are normalised to canonical text.  The
numeric-or-string types (protocols, ports, AS numbers) are re-exported from
``_numorstring``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from calico.resources import _names
from calico.resources._net import normalise_cidr, parse_cidr, parse_ip
from calico.selector import parse as parse_selector

# --- names -----------------------------------------------------------------
#
# Calico tags most string fields ``omitempty``: an empty string means "unset"
# and is not validated.  Scalar types below therefore accept "".  List items
# and required values add the ``NonEmpty`` check.


def _check(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


NonEmpty = AfterValidator(_non_empty)


def _empty_is_unset(value: Any) -> Any:
    return None if value == "" else value


# For optional enumerations: Go treats "" like an absent value.
EmptyIsUnset = BeforeValidator(_empty_is_unset)


def _subdomain(value: str) -> str:
    _check(_names.subdomain_problem(value) if value else None)
    return value


def _interface(value: str) -> str:
    _check(_names.interface_problem(value) if value else None)
    return value


def _port_name(value: str) -> str:
    _check(_names.port_name_problem(value) if value else None)
    return value


def _container_id(value: str) -> str:
    _check(_names.container_id_problem(value) if value else None)
    return value


Name = Annotated[str, AfterValidator(_subdomain)]
InterfaceName = Annotated[str, AfterValidator(_interface)]
PortName = Annotated[str, AfterValidator(_port_name)]
ContainerID = Annotated[str, AfterValidator(_container_id)]
# List items: an empty entry is an error.
NameItem = Annotated[Name, NonEmpty]

# --- selectors -----------------------------------------------------------------

SELECTOR_MAX = 1024


def check_selector(text: str) -> str:
    """Validate selector syntax with calico.selector; empty means all()."""
    if len(text) > SELECTOR_MAX:
        raise ValueError(f"selector must be at most {SELECTOR_MAX} characters")
    if text.strip():
        parse_selector(text)  # raises SelectorError, a ValueError, with the position
    return text


Selector = Annotated[str, AfterValidator(check_selector)]

# --- addresses -------------------------------------------------------------


def _ip(value: str) -> str:
    if value:
        parse_ip(value)
    return value


def _ipv4(value: str) -> str:
    if value and parse_ip(value).version != 4:
        raise ValueError("must be an IPv4 address")
    return value


def _ipv6(value: str) -> str:
    if value and parse_ip(value).version != 6:
        raise ValueError("must be an IPv6 address")
    return value


def _cidr(value: str) -> str:
    return normalise_cidr(value)


def _masked_cidr(value: str) -> str:
    return normalise_cidr(value, strict=True)


def _cidr_v4(value: str) -> str:
    if value and parse_cidr(value).version != 4:
        raise ValueError("must be an IPv4 address or CIDR")
    return value


def _cidr_v6(value: str) -> str:
    if value and parse_cidr(value).version != 6:
        raise ValueError("must be an IPv6 address or CIDR")
    return value


def _net_or_ip(value: str) -> str:
    if value:
        normalise_cidr(value, strict=True)
    return value


IPAddr = Annotated[str, AfterValidator(_ip)]
IPv4Addr = Annotated[str, AfterValidator(_ipv4)]
IPv6Addr = Annotated[str, AfterValidator(_ipv6)]
IPAddrItem = Annotated[IPAddr, NonEmpty]
# CIDR types are list items or required values: "" is an error.
# A CIDR or bare address, normalised to canonical addr/len (host bits kept).
Cidr = Annotated[str, AfterValidator(_cidr)]
# As Cidr, but host bits must be zero ("net" in Calico's validator).
MaskedCidr = Annotated[str, AfterValidator(_masked_cidr)]
# Address-or-CIDR fields Calico stores verbatim (node BGP addresses).
IPv4CidrText = Annotated[str, AfterValidator(_cidr_v4)]
IPv6CidrText = Annotated[str, AfterValidator(_cidr_v6)]
# Verbatim address or strictly masked CIDR (node addresses, port host IPs).
NetText = Annotated[str, AfterValidator(_net_or_ip)]

# --- MAC addresses -------------------------------------------------------------

# Go net.ParseMAC: 6 or 8 (or 20) bytes as aa:bb:.., aa-bb-.. or aabb.ccdd.eeff.
_MAC_GROUPS_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2})+$")
_MAC_DOTTED_RE = re.compile(r"^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4})+$")
_MAC_BYTES = (6, 8, 20)


def _mac(value: str) -> str:
    if not value:
        return value
    if _MAC_GROUPS_RE.match(value) and len(set(value[2::3])) == 1:
        size = (len(value) + 1) // 3
    elif _MAC_DOTTED_RE.match(value):
        size = (len(value) + 1) // 5 * 2
    else:
        size = 0
    if size not in _MAC_BYTES:
        raise ValueError("invalid MAC address")
    return value


MACAddr = Annotated[str, AfterValidator(_mac)]

# --- durations ---------------------------------------------------------------

# Go time.ParseDuration: "90s", "1h30m", "1.5s", "300ms", "0".
_DURATION_RE = re.compile(
    r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$|^[-+]?0$", re.ASCII
)


def _duration(value: str) -> str:
    if value and not _DURATION_RE.match(value):
        raise ValueError("invalid duration (expected e.g. '90s', '1m30s', '500ms')")
    return value


Duration = Annotated[str, AfterValidator(_duration)]


def duration_is_negative(value: str) -> bool:
    return value.startswith("-") and value.strip("-+0") != ""
