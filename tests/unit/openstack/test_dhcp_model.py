"""What a host's DHCP server serves: subnet keys + this host's endpoints."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from calico.openstack.dhcp_model import (
    DhcpHost,
    DhcpSubnet,
    desired_config,
    parse_endpoint,
    parse_subnet,
)
from calico.openstack.endpoints import PortExtra, workload_endpoint
from calico.resources import WorkloadEndpoint

SUBNET_VALUE = {
    "network_id": "net-a",
    "cidr": "10.65.0.0/24",
    "gateway_ip": "10.65.0.1",
    "host_routes": [{"destination": "11.11.0.0/16", "nexthop": "10.65.0.254"}],
    "dns_servers": ["10.0.0.53"],
}
SUBNET_A = DhcpSubnet(
    id="sa",
    network_id="net-a",
    cidr=ipaddress.IPv4Network("10.65.0.0/24"),
    gateway="10.65.0.1",
    host_routes=(("11.11.0.0/16", "10.65.0.254"),),
    dns_servers=("10.0.0.53",),
)
# Same CIDR, another network (Neutron allows overlapping tenant subnets).
SUBNET_B = DhcpSubnet(
    id="sb", network_id="net-b", cidr=ipaddress.IPv4Network("10.65.0.0/24"), gateway="10.65.0.1"
)
SUBNET_C = DhcpSubnet(id="sc", network_id="net-a", cidr=ipaddress.IPv4Network("10.66.0.0/24"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (json.dumps(SUBNET_VALUE), SUBNET_A),
        (
            json.dumps({**SUBNET_VALUE, "cidr": "10.65.0.7/24"}),
            SUBNET_A,
        ),  # host bits as Neutron keeps them
        (
            json.dumps({"cidr": "10.66.0.0/24", "gateway_ip": None, "network_id": "net-a"}),
            SUBNET_C,
        ),
        (json.dumps({**SUBNET_VALUE, "cidr": "2001:db8::/64"}), None),  # IPv6: not served
        (json.dumps({"gateway_ip": "10.65.0.1"}), None),
        (json.dumps({**SUBNET_VALUE, "cidr": "nonsense"}), None),
        ("{", None),
        (json.dumps({**SUBNET_VALUE, "host_routes": [{"destination": "x"}]}), None),
    ],
)
def test_parse_subnet(value: str, expected: DhcpSubnet | None) -> None:
    parsed = parse_subnet(expected.id if expected else "sa", value)
    assert parsed == expected


def endpoint(
    port_id: str,
    ips: list[str],
    *,
    host: str = "h1",
    network: str = "net-a",
    pairs: list[str] = (),  # type: ignore[assignment]
    mac: str = "fa:16:3e:00:00:01",
) -> WorkloadEndpoint:
    port: dict[str, Any] = {
        "id": port_id,
        "device_id": "vm-" + port_id,
        "device_owner": "compute:nova",
        "binding:host_id": host,
        "network_id": network,
        "mac_address": mac,
        "fixed_ips": [{"subnet_id": "x", "ip_address": ip} for ip in ips],
        "allowed_address_pairs": [{"ip_address": p} for p in pairs],
    }
    return workload_endpoint(port, PortExtra(), "openstack")


def test_reservations_for_this_hosts_fixed_ips() -> None:
    subnets = {"sa": SUBNET_A, "sc": SUBNET_C}
    weps = [
        endpoint("p1", ["10.65.0.2"]),
        endpoint("p2", ["10.66.0.9", "fd00::9"], mac="fa:16:3e:00:00:02"),
        endpoint("p3", ["10.65.0.3"], host="h2"),  # another host's
        endpoint("p4", ["10.99.0.4"]),  # no DHCP subnet
    ]
    config = desired_config(subnets, weps, "h1")
    assert config.hosts == (
        DhcpHost("p1", "fa:16:3e:00:00:01", "10.65.0.2", "sa", "tapp1"),
        DhcpHost("p2", "fa:16:3e:00:00:02", "10.66.0.9", "sc", "tapp2"),
    )
    assert config.subnets == (SUBNET_A, SUBNET_C)
    assert config.gateways == ("10.65.0.1",)


def test_allowed_address_pairs_get_no_reservation() -> None:
    config = desired_config(
        {"sa": SUBNET_A}, [endpoint("p1", ["10.65.0.2"], pairs=["10.65.0.100"])], "h1"
    )
    assert [h.ip for h in config.hosts] == ["10.65.0.2"]


def test_overlapping_subnets_are_told_apart_by_network() -> None:
    subnets = {"sa": SUBNET_A, "sb": SUBNET_B}
    config = desired_config(subnets, [endpoint("p1", ["10.65.0.2"], network="net-b")], "h1")
    assert [h.subnet_id for h in config.hosts] == ["sb"]
    assert config.subnets == (SUBNET_B,)


def test_unused_subnets_are_not_served() -> None:
    config = desired_config({"sa": SUBNET_A}, [], "h1")
    assert config.subnets == ()
    assert config.hosts == ()


def test_parse_endpoint_rejects_garbage() -> None:
    good = endpoint("p1", ["10.65.0.2"])
    assert parse_endpoint("k", json.dumps(good.to_dict())) == good
    assert parse_endpoint("k", "{") is None
    assert parse_endpoint("k", json.dumps({"kind": "WorkloadEndpoint"})) is None
