"""IPReservation arithmetic (libcalico-go ``reserved_test.go``, ``addr_filter_test.go``)."""

from __future__ import annotations

import ipaddress

import pytest

from calico.ipam.reserved import Reservations, count_pool_space, parse_reserved_cidrs


def nets(*cidrs: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c) for c in cidrs]


@pytest.mark.parametrize(
    ("pool", "reservations", "blocks", "capacity", "reserved", "outside"),
    [
        ("10.0.0.0/24", [], [], 256, 0, 256),
        ("10.0.0.0/24", ["10.0.0.32/30"], [], 256, 4, 252),
        # Nested and duplicated reservations are counted once.
        (
            "10.0.0.0/24",
            ["10.0.0.0/25", "10.0.0.5/32", "10.0.0.64/26", "10.0.0.0/25"],
            [],
            256,
            128,
            128,
        ),
        ("10.0.0.0/24", ["10.0.0.0/16"], [], 256, 256, 0),
        ("10.0.0.0/24", ["192.168.0.0/24", "fd00::/120"], [], 256, 0, 256),
        ("10.0.0.0/24", [], ["10.0.0.0/26", "10.0.0.64/26"], 256, 0, 128),
        # A reservation inside a block is the block's business, not the outside's.
        ("10.0.0.0/24", ["10.0.0.32/30"], ["10.0.0.0/26"], 256, 4, 192),
        ("10.0.0.0/24", ["10.0.0.128/25"], ["10.0.0.0/26"], 256, 128, 64),
        ("fd00::/120", ["fd00::/126"], [], 256, 4, 252),
        # Python integers do not overflow: no clamping needed.
        ("fd00::/8", [], [], 2**120, 0, 2**120),
    ],
)
def test_count_pool_space(
    pool: str,
    reservations: list[str],
    blocks: list[str],
    capacity: int,
    reserved: int,
    outside: int,
) -> None:
    got = count_pool_space(
        ipaddress.ip_network(pool), Reservations(nets(*reservations)), nets(*blocks)
    )
    assert got == (capacity, reserved, outside)
    assert Reservations(nets(*reservations)).count_in(ipaddress.ip_network(pool)) == reserved


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["10.0.0.0/24", "10.1.0.1", "fd00::1"], ["10.0.0.0/24", "10.1.0.1/32", "fd00::1/128"]),
        ([" 10.0.0.0/24 "], ["10.0.0.0/24"]),
        (["", "   ", "not-a-cidr", "10.0.0.0/33", "10.0.0.0/24"], ["10.0.0.0/24"]),
    ],
)
def test_parse_reserved_cidrs(entries: list[str], expected: list[str]) -> None:
    assert [str(c) for c in parse_reserved_cidrs(entries)] == expected


@pytest.mark.parametrize(
    ("reserved", "cidr", "whole", "some", "first_ip"),
    [
        ([], "10.0.0.0/26", False, False, False),
        (["10.0.0.0/24"], "10.0.0.0/26", True, True, True),
        (["10.0.0.0/27"], "10.0.0.0/26", False, True, True),
        (["10.0.0.0/27", "10.0.0.32/27"], "10.0.0.0/26", True, True, True),
        (["10.0.0.16/28", "10.0.0.32/28"], "10.0.0.0/26", False, True, False),
        (["10.0.1.0/24"], "10.0.0.0/26", False, False, False),
        (["fd00::/64"], "10.0.0.0/26", False, False, False),
    ],
)
def test_filter(reserved: list[str], cidr: str, whole: bool, some: bool, first_ip: bool) -> None:
    filt = Reservations(nets(*reserved))
    block = ipaddress.ip_network(cidr)
    assert filt.matches_whole(block) is whole
    assert filt.matches_some(block) is some
    assert filt.matches_ip(block.network_address) is first_ip
