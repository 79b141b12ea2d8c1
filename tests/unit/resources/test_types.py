"""Scalar field types: MAC addresses, durations, interface and port names."""

from __future__ import annotations

import pytest

from calico.resources import _names
from calico.resources._types import _duration, _mac, duration_is_negative


@pytest.mark.parametrize(
    "mac",
    ["ee:ee:ee:ee:ee:ee", "EE-EE-EE-EE-EE-EE", "0000.5e00.5301", "00:00:00:00:fe:80:00:00", ""],
)
def test_mac_accepts(mac: str) -> None:
    assert _mac(mac) == mac


@pytest.mark.parametrize(
    "mac", ["ee:ee:ee:ee:ee", "zz:ee:ee:ee:ee:ee", "ee:ee-ee:ee:ee:ee", "eeee"]
)
def test_mac_rejects(mac: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        _mac(mac)


@pytest.mark.parametrize(
    "text", ["90s", "1h30m", "1.5s", "300ms", "0", "-1ns", "2h45m0.5s", "10us"]
)
def test_durations(text: str) -> None:
    assert _duration(text) == text


@pytest.mark.parametrize("text", ["90", "1 h", "forever", "1d", "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        _duration(text)


def test_negative_durations() -> None:
    assert duration_is_negative("-1ns")
    assert not duration_is_negative("0s")
    assert not duration_is_negative("-0")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("http", True),
        ("metrics-9090", True),
        ("a" * 15, True),
        ("a" * 16, False),
        ("9090", False),
        ("Http", False),
        ("-http", False),
        ("ht--tp", False),
        ("", False),
    ],
)
def test_port_names(name: str, ok: bool) -> None:
    assert (_names.port_name_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("app", True),
        ("projectcalico.org/namespace", True),
        ("a/b", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("/app", False),
        ("Bad.Domain/app", False),
        ("a/b/c", False),
        ("-app", False),
        ("app/", False),
    ],
)
def test_qualified_names(key: str, ok: bool) -> None:
    assert (_names.qualified_name_problem(key) is None) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("eth0", True),
        ("*", True),
        ("Valid_Iface.0-9", True),
        ("interfaceTooLong", False),
        ("a&b", False),
        ("", False),
    ],
)
def test_interface_names(name: str, ok: bool) -> None:
    assert (_names.interface_problem(name) is None) is ok
