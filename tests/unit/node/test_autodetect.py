from __future__ import annotations

import pytest

from calico.errors import ConfigError
from calico.node.autodetect import Interface, autodetect

IFACES = [
    Interface("lo", ("127.0.0.1/8", "::1/128")),
    Interface("docker0", ("172.17.0.1/16",)),
    Interface("cali1234567890a", ("169.254.1.1/32",)),
    Interface("eth0", ("fe80::1/64", "10.0.0.5/24", "fd00::5/64")),
    Interface("eth1", ("192.168.7.9/24",)),
    Interface("ens5", ("172.31.4.4/20",)),
]


def detect(method: str, version: int = 4) -> str:
    return autodetect(method, version, lambda: IFACES)


@pytest.mark.parametrize(
    ("method", "version", "expected"),
    [
        ("first-found", 4, "10.0.0.5/24"),
        ("", 4, "10.0.0.5/24"),
        ("first-found", 6, "fd00::5/64"),
        ("interface=eth1", 4, "192.168.7.9/24"),
        ("interface=ens.*, eth1", 4, "192.168.7.9/24"),
        ("interface=ens.*", 4, "172.31.4.4/20"),
        ("skip-interface=eth0", 4, "192.168.7.9/24"),
        ("skip-interface=eth.*", 4, "172.31.4.4/20"),
        # cidr= applies no interface exclusions (as Calico): docker0 matches first.
        ("cidr=172.16.0.0/12", 4, "172.17.0.1/16"),
        ("cidr=172.31.0.0/16", 4, "172.31.4.4/20"),
        ("cidr=10.9.0.0/16,192.168.0.0/16", 4, "192.168.7.9/24"),
    ],
)
def test_methods(method: str, version: int, expected: str) -> None:
    assert detect(method, version) == expected


@pytest.mark.parametrize(
    ("method", "needle"),
    [
        ("bogus", "unknown method 'bogus'"),
        ("interface=", "unknown method"),
        ("interface=eth[", "invalid regex 'eth['"),
        ("cidr=10.0.0.0/33", "invalid CIDR '10.0.0.0/33'"),
        ("interface=wlan.*", "no IPv4 address found"),
    ],
)
def test_errors_name_the_value(method: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace(".", r"\.")):
        detect(method)


def test_can_reach_uses_kernel_route_choice() -> None:
    # Loopback is the one destination we may "reach" here: UDP connect sends nothing.
    result = autodetect("can-reach=127.0.0.1", 4, lambda: [Interface("lo", ("127.0.0.1/8",))])
    assert result == "127.0.0.1/8"
