"""Address and CIDR parsing (Go net package rules)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calico.errors import ValidationError
from calico.resources import is_strictly_masked, normalise_cidr, split_peer_ip
from calico.resources._net import parse_cidr, parse_ip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", "10.0.0.1/32"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.1/8", "10.0.0.1/8"),
        ("AABB::1", "aabb::1/128"),
        ("aabb:aabb::0000/122", "aabb:aabb::/122"),
        ("dead:beef::/96", "dead:beef::/96"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::/0", "::/0"),
    ],
)
def test_normalise_cidr(text: str, expected: str) -> None:
    assert normalise_cidr(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "10.0.0.0/33",
        "aa:bb::/129",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/255.0.0.0",
        "999.999.999.999",
        "xyz:::",
        "fe80::1%eth0/64",
        "01.2.3.4",
        " 10.0.0.1",
        "10.0.0.0/8/8",
    ],
)
def test_normalise_cidr_rejects(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_cidr(text)
    assert "CIDR" in str(info.value)


def test_strict_masking() -> None:
    assert normalise_cidr("10.0.0.0/8", strict=True) == "10.0.0.0/8"
    assert normalise_cidr("10.0.0.1", strict=True) == "10.0.0.1/32"
    with pytest.raises(ValidationError, match=r"did you mean 10\.0\.0\.0/8"):
        normalise_cidr("10.0.0.1/8", strict=True)
    assert is_strictly_masked("1.2.3.0/26")
    assert not is_strictly_masked("1.2.3.4/26")
    assert not is_strictly_masked("nonsense")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9.9.9.9", ("9.9.9.9", None)),
        ("9.9.9.9:4444", ("9.9.9.9", 4444)),
        ("[aabb::ffff]:4444", ("aabb::ffff", 4444)),
        ("aabb::ffff", ("aabb::ffff", None)),
        ("192.168.1.1:500", ("192.168.1.1", 500)),
        ("[9000::]:500", ("9000::", 500)),
    ],
)
def test_peer_ip(text: str, expected: tuple[str, int | None]) -> None:
    assert split_peer_ip(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "999.999.999.999",
        "xyz:::",
        "[192.168.0.0]:98956",
        "192.168.0.0:65536",
        "192.168.0.0:0",
        "192.168.0.330:170",
        "[9000::]:98956",
        "192.168.0.0:",
        "[9000::]:",
        "[9000::]:65536",
        "[9000::]:0",
        "[9000::FFFFF]:170",
        ":8552",
        "[]:8552",
        "[9000::]",
    ],
)
def test_peer_ip_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        split_peer_ip(text)


def test_parse_ip_rejects_zone() -> None:
    with pytest.raises(ValueError, match="zone"):
        parse_ip("fe80::1%eth0")


@given(st.ip_addresses(), st.integers(min_value=0, max_value=128))
def test_normalise_is_idempotent_and_keeps_the_address(address: object, prefix: int) -> None:
    ip = ipaddress.ip_address(str(address))
    prefix = min(prefix, ip.max_prefixlen)
    text = normalise_cidr(f"{ip}/{prefix}")
    assert normalise_cidr(text) == text
    assert parse_cidr(text).ip == ip
    assert is_strictly_masked(text) == (parse_cidr(text).network.network_address == ip)
