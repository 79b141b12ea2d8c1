"""numorstring types: protocol, port, AS number, DSCP."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calico.resources import port_range, protocol_number, protocol_supports_ports
from calico.resources._numorstring import parse_as_number, parse_dscp, parse_port, parse_protocol


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TCP", "TCP"),
        ("UDP", "UDP"),
        ("ICMP", "ICMP"),
        ("ICMPv6", "ICMPv6"),
        ("SCTP", "SCTP"),
        ("UDPLite", "UDPLite"),
        (1, 1),
        (255, 255),
        ("255", 255),
        ("1", 1),
        ("6", 6),
    ],
)
def test_protocol_accepts(raw: Any, expected: int | str) -> None:
    assert parse_protocol(raw) == expected


@pytest.mark.parametrize(
    "raw", [0, "0", 256, "256", "tcpfoo", "footcp", "unknown", True, 1.5, None]
)
def test_protocol_rejects(raw: Any) -> None:
    with pytest.raises(ValueError, match="protocol"):
        parse_protocol(raw)


def test_lowercase_protocol_is_rejected_with_a_hint() -> None:
    # Calico's v3 validator rejects "tcp" (only v1 used lower case).
    with pytest.raises(ValueError, match="did you mean 'TCP'"):
        parse_protocol("tcp")


def test_protocol_helpers() -> None:
    assert protocol_number("ICMPv6") == 58
    assert protocol_number(132) == 132
    assert [
        p
        for p in ("TCP", "UDP", "SCTP", "ICMP", "UDPLite", 6, 17, 132, 7)
        if protocol_supports_ports(p)
    ] == ["TCP", "UDP", "SCTP", 6, 17, 132]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (80, 80),
        ("80", 80),
        ("1:2", "1:2"),
        ("80:80", 80),
        ("10:20", "10:20"),
        ("65535", 65535),
        ("http", "http"),
        ("my-port", "my-port"),
    ],
)
def test_port_accepts(raw: Any, expected: int | str) -> None:
    assert parse_port(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        0,
        "0",
        65536,
        "65536",
        "0:100",
        "200:100",
        "1:65536",
        True,
        1.0,
        "Bad_Name",
        "-http",
        "toolongportname-x",
        "123abc:",
        "a--b",
    ],
)
def test_port_rejects(raw: Any) -> None:
    with pytest.raises(ValueError, match="port"):
        parse_port(raw)


def test_port_range() -> None:
    assert port_range(80) == (80, 80)
    assert port_range("80:90") == (80, 90)
    assert port_range("http") is None


@given(st.integers(1, 65535), st.integers(1, 65535))
def test_port_range_roundtrip(low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    parsed = parse_port(f"{low}:{high}")
    assert port_range(parsed) == (low, high)
    assert parse_port(parsed) == parsed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (64512, 64512),
        ("64512", 64512),
        ("1.10", 65546),
        ("0.0", 0),
        (4294967295, 4294967295),
        ("65535.65535", 4294967295),
    ],
)
def test_as_number(raw: Any, expected: int) -> None:
    assert parse_as_number(raw) == expected


@pytest.mark.parametrize("raw", [-1, 4294967296, "1.65536", "1.2.3", "a.b", "", True, "1."])
def test_as_number_rejects(raw: Any) -> None:
    with pytest.raises(ValueError, match="AS number"):
        parse_as_number(raw)


@pytest.mark.parametrize(("raw", "expected"), [(46, 46), ("EF", "EF"), ("af11", "af11"), ("0", 0)])
def test_dscp(raw: Any, expected: int | str) -> None:
    assert parse_dscp(raw) == expected


@pytest.mark.parametrize("raw", [64, -1, "XX", "AF14"])
def test_dscp_rejects(raw: Any) -> None:
    with pytest.raises(ValueError, match="DSCP"):
        parse_dscp(raw)
