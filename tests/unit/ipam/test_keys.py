"""IPAM key layout: Calico's exact paths, and parsing them back."""

from __future__ import annotations

import ipaddress

import pytest

from calico.errors import ValidationError
from calico.ipam import keys


def test_block_keys() -> None:
    v4 = ipaddress.ip_network("10.65.0.0/26")
    v6 = ipaddress.ip_network("fd00::40/122")
    assert keys.block_key(v4) == "/calico/ipam/v2/assignment/ipv4/block/10.65.0.0-26"
    assert keys.block_key(v6) == "/calico/ipam/v2/assignment/ipv6/block/fd00::40-122"
    assert keys.parse_block_key(keys.block_key(v6)) == v6
    assert keys.parse_block_key("/calico/ipam/v2/assignment/ipv4/block/nonsense") is None
    assert keys.parse_block_key("/calico/ipam/v2/handle/x") is None


def test_affinity_keys() -> None:
    cidr = ipaddress.ip_network("10.65.0.64/26")
    key = keys.affinity_key("node1", cidr)
    assert key == "/calico/ipam/v2/host/node1/ipv4/block/10.65.0.64-26"
    assert keys.parse_affinity_key(key) == keys.AffinityKey("node1", cidr)
    virtual = keys.affinity_key("lb", cidr, keys.AFFINITY_TYPE_VIRTUAL)
    assert virtual.startswith("/calico/ipam/v2/virtual/lb/ipv4/block/")
    assert keys.parse_affinity_key(virtual) == keys.AffinityKey("lb", cidr, "virtual")
    assert keys.parse_affinity_key("/calico/ipam/v2/assignment/ipv4/block/10.65.0.64-26") is None


def test_handle_keys() -> None:
    assert keys.handle_key("k8s-pod-network.abc") == "/calico/ipam/v2/handle/k8s-pod-network.abc"
    assert (
        keys.parse_handle_key("/calico/ipam/v2/handle/k8s-pod-network.abc") == "k8s-pod-network.abc"
    )


@pytest.mark.parametrize("bad", ["", "a/b"])
def test_names_that_would_escape_their_subtree_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        keys.handle_key(bad)
    with pytest.raises(ValidationError):
        keys.affinity_key(bad, ipaddress.ip_network("10.0.0.0/26"))
