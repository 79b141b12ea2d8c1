"""Calico's numorstring types: protocol, port, AS number and DSCP.

Source: api ``pkg/lib/numorstring`` and libcalico-go ``validator.go``
(``validateProtocol``, ``validatePort``).  Each accepts the spellings Calico
accepts and returns the form Calico writes back (``"80"`` and ``"80:80"`` are
the port 80; ``"6"`` is protocol 6; ``"1.10"`` is AS 65546).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

from calico.resources import _names

# --- numorstring: protocol ------------------------------------------------------


def _digits(text: str) -> bool:
    # str.isdigit() is also true for non-ASCII digits such as "²".
    return text.isascii() and text.isdigit()


PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}
_PORT_PROTOCOLS = frozenset({6, 17, 132})


def parse_protocol(raw: Any) -> int | str:
    """A protocol name (exact case) or number 1-255; digit strings become ints."""
    if isinstance(raw, bool):
        raise ValueError("protocol must be a name or a number 1-255")
    if isinstance(raw, str) and _digits(raw):
        raw = int(raw)
    if isinstance(raw, int):
        if not 1 <= raw <= 255:
            raise ValueError("protocol number must be 1 to 255")
        return raw
    if isinstance(raw, str):
        if raw in PROTOCOL_NUMBERS:
            return raw
        hint = next((n for n in PROTOCOL_NUMBERS if n.lower() == raw.lower()), None)
        suffix = f" (did you mean {hint!r}?)" if hint else ""
        names = ", ".join(PROTOCOL_NUMBERS)
        raise ValueError(f"protocol must be one of {names} or a number 1-255{suffix}")
    raise ValueError("protocol must be a name or a number 1-255")


def protocol_number(protocol: int | str) -> int:
    """IANA number of a (validated) protocol."""
    return protocol if isinstance(protocol, int) else PROTOCOL_NUMBERS[protocol]


def protocol_supports_ports(protocol: int | str) -> bool:
    """TCP, UDP and SCTP have ports (Calico's Protocol.SupportsPorts)."""
    return protocol_number(protocol) in _PORT_PROTOCOLS


Protocol = Annotated[int | str, BeforeValidator(parse_protocol)]

# --- numorstring: port -----------------------------------------------------------

_RANGE_RE = re.compile(r"^(\d+):(\d+)$", re.ASCII)


def parse_port(raw: Any) -> int | str:
    """A port: number, ``"N:M"`` range (N <= M) or a named port.

    Normalised as Calico writes it back: single ports (including ``"N:N"``
    and digit strings) become ints.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError("port must be a number, a 'min:max' range or a port name")
    if isinstance(raw, int):
        return _port_number(raw)
    text: str = raw
    if _digits(text):
        return _port_number(int(text))
    match = _RANGE_RE.match(text)
    if match:
        low, high = _port_number(int(match[1])), _port_number(int(match[2]))
        if low > high:
            raise ValueError(f"port range {text!r} has minimum greater than maximum")
        return low if low == high else f"{low}:{high}"
    problem = _names.port_name_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _port_number(number: int) -> int:
    if not 1 <= number <= 65535:
        raise ValueError("port number must be between 1 and 65535")
    return number


def port_range(port: int | str) -> tuple[int, int] | None:
    """(min, max) of a numeric port or range; None for a named port."""
    if isinstance(port, int):
        return port, port
    match = _RANGE_RE.match(port)
    return (int(match[1]), int(match[2])) if match else None


Port = Annotated[int | str, BeforeValidator(parse_port)]

# --- numorstring: AS number --------------------------------------------------------


def parse_as_number(raw: Any) -> int:
    """A 4-byte AS number: plain ``64512`` or dotted ``"1.10"`` (asdot)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError("AS number must be a number or 'a.b' dotted notation")
    number: int
    if isinstance(raw, int):
        number = raw
    else:
        high, dot, low = raw.partition(".")
        if not dot and _digits(raw):
            number = int(raw)
        elif dot and _digits(high) and _digits(low) and max(int(high), int(low)) <= 0xFFFF:
            return (int(high) << 16) + int(low)
        else:
            raise ValueError("invalid AS number format (expected N or 'a.b')")
    if not 0 <= number <= 0xFFFFFFFF:
        raise ValueError("AS number must be 0 to 4294967295")
    return number


ASNumber = Annotated[int, BeforeValidator(parse_as_number)]

# --- numorstring: DSCP ------------------------------------------------------------

DSCP_VALUES = {
    "DF": 0,
    "EF": 46,
    "CS0": 0,
    "CS1": 8,
    "CS2": 16,
    "CS3": 24,
    "CS4": 32,
    "CS5": 40,
    "CS6": 48,
    "AF11": 10,
    "AF12": 12,
    "AF13": 14,
    "AF21": 18,
    "AF22": 20,
    "AF23": 22,
    "AF31": 26,
    "AF32": 28,
    "AF33": 30,
    "AF41": 34,
    "AF42": 36,
    "AF43": 38,
}


def parse_dscp(raw: Any) -> int | str:
    """A DSCP value 0-63 or a class name (EF, AF11, CS1, ...)."""
    if isinstance(raw, str) and _digits(raw):
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw <= 63:
            raise ValueError("DSCP must be between 0 and 63")
        return raw
    if isinstance(raw, str) and raw.strip().upper() in DSCP_VALUES:
        return raw
    raise ValueError(f"{raw!r} is not a valid DSCP value")


DSCP = Annotated[int | str, BeforeValidator(parse_dscp)]
