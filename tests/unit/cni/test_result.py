"""CNI results: printed per requested version, parsed from any, chained."""

from __future__ import annotations

import pytest

from calico.cni.result import DNS, Interface, IPConfig, Result, Route
from calico.cni.spec import CniError


def sample() -> Result:
    return Result(
        interfaces=[
            Interface("cali0123456789a", "ee:ee:ee:ee:ee:ee"),
            Interface("eth0", "02:00:00:00:00:01", 1450, "/run/netns/x"),
        ],
        ips=[IPConfig("10.0.0.5/32", "169.254.1.1", 1), IPConfig("fd00::5/128", "fe80::1", 1)],
        routes=[Route("0.0.0.0/0", "169.254.1.1", {"mtu": 1400})],
        dns=DNS(nameservers=["10.0.0.10"]),
    )


def test_1_1_0_has_interface_mtu_and_route_extras() -> None:
    out = sample().to_json("1.1.0")
    assert out["interfaces"][1] == {
        "name": "eth0",
        "mac": "02:00:00:00:00:01",
        "mtu": 1450,
        "sandbox": "/run/netns/x",
    }
    assert out["routes"] == [{"dst": "0.0.0.0/0", "gw": "169.254.1.1", "mtu": 1400}]
    assert out["ips"][0] == {"interface": 1, "address": "10.0.0.5/32", "gateway": "169.254.1.1"}
    assert out["dns"] == {"nameservers": ["10.0.0.10"]}


def test_1_0_0_drops_the_1_1_fields() -> None:
    out = sample().to_json("1.0.0")
    assert out["cniVersion"] == "1.0.0"
    assert "mtu" not in out["interfaces"][1]
    assert out["routes"] == [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}]
    assert "version" not in out["ips"][0]


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0"])
def test_0_x_ips_carry_their_ip_version(version: str) -> None:
    out = sample().to_json(version)
    assert [ip["version"] for ip in out["ips"]] == ["4", "6"]


@pytest.mark.parametrize("version", ["0.3.1", "1.0.0", "1.1.0"])
def test_round_trip(version: str) -> None:
    out = sample().to_json(version)
    assert Result.from_json(out).to_json(version) == out


def test_abbreviated_ipam_results_parse() -> None:
    parsed = Result.from_json(
        {
            "cniVersion": "0.4.0",
            "ips": [{"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1"}],
        }
    )
    assert parsed.interfaces == []
    assert parsed.ips == [IPConfig("10.1.0.5/16", "10.1.0.1", None)]
    assert str(parsed.ips[0].ip) == "10.1.0.5"


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"ips": {}},
        {"ips": [{"address": "nope"}]},
        {"ips": [{"address": "10.0.0.1/32", "interface": "1"}]},
        {"interfaces": [{"name": 5}]},
        {"dns": []},
    ],
)
def test_malformed_results_are_decode_errors(raw: object) -> None:
    with pytest.raises(CniError) as info:
        Result.from_json(raw)
    assert info.value.code == 6


def test_chaining_shifts_interface_indices() -> None:
    previous = Result(interfaces=[Interface("lo")], ips=[IPConfig("127.0.0.1/8", "", 0)])
    chained = previous.then(sample())
    assert [i.name for i in chained.interfaces] == ["lo", "cali0123456789a", "eth0"]
    assert [ip.interface for ip in chained.ips] == [0, 2, 2]
    assert chained.dns == sample().dns
