"""Neutron subnet -> DHCP subnet key (networking-calico ``subnet_etcd_data``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calico.datastore import MemoryDatastore
from calico.openstack import region
from calico.openstack.subnets import delete_subnet, subnet_data, sync_subnet

SUBNET: dict[str, Any] = {
    "id": "subnet-id-10.65.0--24",
    "network_id": "calico-network-id",
    "cidr": "10.65.0.0/24",
    "gateway_ip": "10.65.0.1",
    "host_routes": [{"destination": "11.11.0.0/16", "nexthop": "10.65.0.1"}],
    "dns_nameservers": [],
    "enable_dhcp": True,
    "ip_version": 4,
}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {},
            {
                "network_id": "calico-network-id",
                "cidr": "10.65.0.0/24",
                "gateway_ip": "10.65.0.1",
                "host_routes": [{"destination": "11.11.0.0/16", "nexthop": "10.65.0.1"}],
            },
        ),
        ({"enable_dhcp": False}, None),
        (
            {"dns_nameservers": ["8.8.8.8", "8.8.4.4"], "host_routes": []},
            {
                "network_id": "calico-network-id",
                "cidr": "10.65.0.0/24",
                "gateway_ip": "10.65.0.1",
                "host_routes": [],
                "dns_servers": ["8.8.8.8", "8.8.4.4"],
            },
        ),
        (
            {
                "cidr": "2001:db8:a41:2::/64",
                "gateway_ip": "2001:db8:a41:2::1",
                "host_routes": [],
                "ipv6_ra_mode": "dhcpv6-stateful",
                "ipv6_address_mode": "dhcpv6-stateful",
            },
            {
                "network_id": "calico-network-id",
                "cidr": "2001:db8:a41:2::/64",
                "gateway_ip": "2001:db8:a41:2::1",
                "host_routes": [],
                "ipv6_ra_mode": "dhcpv6-stateful",
                "ipv6_address_mode": "dhcpv6-stateful",
            },
        ),
        # Only one of the two IPv6 modes: neither is written.
        (
            {
                "cidr": "2001:db8::/64",
                "gateway_ip": None,
                "host_routes": [],
                "ipv6_ra_mode": "slaac",
            },
            {
                "network_id": "calico-network-id",
                "cidr": "2001:db8::/64",
                "gateway_ip": None,
                "host_routes": [],
            },
        ),
    ],
)
def test_subnet_data(overrides: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert subnet_data({**SUBNET, **overrides}) == expected


KEY = "/calico/dhcp/v2/no-region/subnet/subnet-id-10.65.0--24"


def test_sync_writes_updates_and_removes_the_key() -> None:
    store = MemoryDatastore()
    sync_subnet(store, region.NO_REGION, SUBNET)
    kv = store.get(KEY)
    assert kv is not None
    assert json.loads(kv.value)["gateway_ip"] == "10.65.0.1"

    sync_subnet(store, region.NO_REGION, SUBNET)  # unchanged: no write
    assert store.get(KEY) == kv

    sync_subnet(store, region.NO_REGION, {**SUBNET, "gateway_ip": "10.65.0.254"})
    changed = store.get(KEY)
    assert changed is not None
    assert json.loads(changed.value)["gateway_ip"] == "10.65.0.254"

    sync_subnet(store, region.NO_REGION, {**SUBNET, "enable_dhcp": False})
    assert store.get(KEY) is None


def test_delete_is_idempotent_and_regions_are_separate() -> None:
    store = MemoryDatastore()
    rs = region.region_string("r1")
    sync_subnet(store, rs, SUBNET)
    assert store.get("/calico/dhcp/v2/region-r1/subnet/subnet-id-10.65.0--24") is not None
    assert store.get(KEY) is None
    delete_subnet(store, rs, SUBNET["id"])
    delete_subnet(store, rs, SUBNET["id"])
    assert store.list("/calico/dhcp/")[0] == []
