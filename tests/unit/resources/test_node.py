"""Node: BGP and tunnel addresses, status."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import Node

from .helpers import doc, parse, rejects, roundtrip

KEY = "jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY="


def test_node_roundtrip() -> None:
    node = parse(
        "Node",
        {
            "bgp": {
                "asNumber": "1.10",
                "ipv4Address": "10.0.0.5/24",
                "ipv6Address": "fd00::5/64",
                "ipv4IPIPTunnelAddr": "192.168.0.1",
                "routeReflectorClusterID": "245.0.0.1",
            },
            "ipv4VXLANTunnelAddr": "192.168.1.1",
            "vxlanTunnelMACAddr": "66:0c:2a:b1:1a:2e",
            "orchRefs": [{"nodeName": "k8s-node1", "orchestrator": "k8s"}],
            "wireguard": {"interfaceIPv4Address": "192.168.2.1"},
            "addresses": [
                {"address": "10.0.0.5", "type": "CalicoNodeIP"},
                {"address": "10.0.0.0/24"},
            ],
            "interfaces": [{"name": "eth0", "addresses": ["10.0.0.5"]}],
        },
        name="node1.example.com",
    )
    assert isinstance(node, Node)
    assert node.spec.bgp is not None
    assert node.spec.bgp.as_number == 65546
    assert node.to_dict()["status"] == {}
    roundtrip(node)


def test_node_status() -> None:
    data = doc("Node", {}, name="n1")
    data["status"] = {"wireguardPublicKey": KEY, "podCIDRs": ["10.244.0.0/24"]}
    from calico.resources import parse_resource

    roundtrip(parse_resource(data))
    data["status"] = {"wireguardPublicKey": "foobar"}
    rejects(data, "status.wireguardPublicKey", "WireGuard")


@pytest.mark.parametrize(
    "spec",
    [
        {"bgp": {"ipv4Address": "1.2.3.4/32"}},
        {"bgp": {"ipv6Address": "aabb:aabb::ffff/128"}},
        {"bgp": {"ipv4IPIPTunnelAddr": "10.0.0.1"}},
        {},
    ],
)
def test_valid_nodes(spec: dict[str, Any]) -> None:
    roundtrip(parse("Node", spec, name="node1"), written=spec)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"bgp": {}}, "spec.bgp", "must not be empty"),
        ({"bgp": {"ipv4Address": "aabb:aabb::ffff/128"}}, "spec.bgp.ipv4Address", "IPv4"),
        ({"bgp": {"ipv6Address": "1.2.3.4/32"}}, "spec.bgp.ipv6Address", "IPv6"),
        (
            {"bgp": {"ipv4Address": "1.2.3.4/32", "routeReflectorClusterID": "abcdef"}},
            "spec.bgp.routeReflectorClusterID",
            "invalid IP address",
        ),
        (
            {"bgp": {"ipv4Address": "1.2.3.4/32", "routeReflectorClusterID": "300.34.3.1"}},
            "spec.bgp.routeReflectorClusterID",
            "invalid IP address",
        ),
        ({"bgp": {"asNumber": "x"}}, "spec.bgp.asNumber", "AS number"),
        (
            {"wireguard": {"interfaceIPv4Address": "foo.bar"}},
            "spec.wireguard.interfaceIPv4Address",
            "IP address",
        ),
        ({"vxlanTunnelMACAddr": "zz"}, "spec.vxlanTunnelMACAddr", "MAC"),
        (
            {"addresses": [{"address": "10.0.0.5", "type": "Public"}]},
            "spec.addresses[0].type",
            "must be",
        ),
        ({"addresses": [{"address": ""}]}, "spec.addresses[0].address", "must not be empty"),
        ({"orchRefs": [{"nodeName": "x"}]}, None, ""),
    ],
)
def test_invalid_nodes(spec: dict[str, Any], field: str | None, message: str) -> None:
    if field is None:
        # orchestrator is a plain string in Calico; an empty one is accepted and printed.
        assert parse("Node", spec, name="n").to_dict()["spec"]["orchRefs"] == [
            {"nodeName": "x", "orchestrator": ""}
        ]
        return
    rejects(doc("Node", spec, name="node1"), field, message)
