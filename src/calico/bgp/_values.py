"""Scalar values as Calico stores them: Go durations, ``peerIP`` text, AS numbers."""

from __future__ import annotations

import ipaddress
import re

_PEER_PORT_RE = re.compile(r"^(?P<host>[0-9.]+|\[[0-9a-fA-F:.]+\]):(?P<port>\d+)$")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
                   "s": 1.0, "m": 60.0, "h": 3600.0}  # fmt: skip


def split_peer_ip(text: str) -> tuple[str, int]:
    """``10.0.0.1``, ``10.0.0.1:1790`` or ``[fd00::1]:1790`` -> (address, port or 0)."""
    if not text:
        return "", 0
    match = _PEER_PORT_RE.match(text)
    host, port = (match["host"].strip("[]"), int(match["port"])) if match else (text, 0)
    ipaddress.ip_address(host)  # ValueError names the bad text
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} in peerIP {text!r} is out of range")
    return host, port


def parse_duration_seconds(text: str) -> int:
    """A Go duration (``90s``, ``2m30s``, ``1.5h``) rounded to whole seconds, as confd does."""
    body = text.lstrip("+")
    if body == "0":
        return 0
    parts = _DURATION_PART_RE.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"invalid duration {text!r}")
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    return int(seconds + 0.5)  # Go's math.Round: halves away from zero


def seconds_or_none(value: object) -> int | None:
    return None if value in (None, "") else parse_duration_seconds(str(value))


def as_number(value: object) -> int:
    """AS numbers are stored as integers or as text (``"64512"`` or asdot ``"1.10"``)."""
    if value in (None, ""):
        return 0
    text = str(value)
    if "." in text:
        high, low = text.split(".", 1)
        return int(high) * 65536 + int(low)
    return int(text)
