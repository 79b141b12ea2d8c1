"""BGPConfiguration and BGPPeer, ported from validator_test.go."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import BGPConfiguration, BGPPeer

from .helpers import doc, parse, rejects, roundtrip

SECRET = {"secretKeyRef": {"name": "test-secret", "key": "bgp-password"}}
ADVERT = {"cidr": "192.168.10.0/28", "communities": ["100:100"]}


def test_bgp_configuration_defaults_only_where_calico_sets_them() -> None:
    config = parse("BGPConfiguration", None, name="default")
    assert isinstance(config, BGPConfiguration)
    assert config.to_dict()["spec"] == {
        "logSeverityScreen": "Info",
        "serviceLoadBalancerAggregation": "Enabled",
    }
    # Mesh and AS number default when read (calico-bgp), not when stored.
    assert config.spec.node_to_node_mesh_enabled is None
    assert config.spec.as_number is None
    roundtrip(config)


VALID_CONFIG: list[tuple[str, dict[str, Any]]] = [
    ("Info", {"logSeverityScreen": "Info"}),
    ("info", {"logSeverityScreen": "info"}),
    ("INFO", {"logSeverityScreen": "INFO"}),
    ("cluster IP", {"serviceClusterIPs": [{"cidr": "1.2.3.4"}]}),
    ("external IP", {"serviceExternalIPs": [{"cidr": "8.8.8.8"}]}),
    ("IPv6 cluster IP", {"serviceClusterIPs": [{"cidr": "fdf5:1234::102:304"}]}),
    ("IPv6 external IP", {"serviceExternalIPs": [{"cidr": "fdf5:1234::808:808"}]}),
    ("load balancer IPs", {"serviceLoadBalancerIPs": [{"cidr": "10.96.0.0/12"}]}),
    ("mesh password with mesh on", {"nodeToNodeMeshEnabled": True, "nodeMeshPassword": SECRET}),
    (
        "mesh restart time with mesh on",
        {"nodeToNodeMeshEnabled": True, "nodeMeshMaxRestartTime": "200s"},
    ),
    ("ignored interfaces", {"ignoredInterfaces": ["valid_iface*", "interface_name"]}),
    (
        "standard community",
        {
            "communities": [{"name": "community-test", "value": "100:520"}],
            "prefixAdvertisements": [ADVERT],
        },
    ),
    (
        "large community",
        {
            "communities": [{"name": "community-test", "value": "100:520:56"}],
            "prefixAdvertisements": [ADVERT],
        },
    ),
    (
        "IPv4 advertisement",
        {"prefixAdvertisements": [{"cidr": "192.168.10.0/28", "communities": ["100:5964:50"]}]},
    ),
    (
        "IPv6 advertisement",
        {"prefixAdvertisements": [{"cidr": "2001:4860::/128", "communities": ["100:5964"]}]},
    ),
    (
        "mixed communities",
        {
            "prefixAdvertisements": [
                {"cidr": "2001:4860::/128", "communities": ["100:5964:1147483647", "100:5223"]}
            ]
        },
    ),
    (
        "named community",
        {
            "communities": [{"name": "community-test", "value": "101:5695"}],
            "prefixAdvertisements": [
                {"cidr": "2001:4860::/128", "communities": ["community-test", "8988:202"]}
            ],
        },
    ),
    (
        "workload peering IPs",
        {"localWorkloadPeeringIPV4": "1.2.3.4", "localWorkloadPeeringIPV6": "aabb::abcd"},
    ),
    (
        "everything else",
        {
            "nodeToNodeMeshEnabled": False,
            "asNumber": "64512",
            "listenPort": 1790,
            "bindMode": "NodeIP",
            "programClusterRoutes": "Enabled",
            "ipv4NormalRoutePriority": 1024,
            "serviceLoadBalancerAggregation": "Disabled",
        },
    ),
]


@pytest.mark.parametrize(("case", "spec"), VALID_CONFIG, ids=[c for c, _ in VALID_CONFIG])
def test_valid_bgp_configurations(case: str, spec: dict[str, Any]) -> None:
    roundtrip(parse("BGPConfiguration", spec, name="default"), written=spec)


INVALID_CONFIG: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "bad log level",
        {"logSeverityScreen": "invalidLvl"},
        "spec.logSeverityScreen",
        "must be one of",
    ),
    (
        "bad cluster IP",
        {"serviceClusterIPs": [{"cidr": "x.x.x.x"}]},
        "spec.serviceClusterIPs[0].cidr",
        "CIDR",
    ),
    (
        "bad external IP",
        {"serviceExternalIPs": [{"cidr": "y.y.y.y"}]},
        "spec.serviceExternalIPs[0].cidr",
        "CIDR",
    ),
    (
        "mesh password with mesh off",
        {"nodeToNodeMeshEnabled": False, "nodeMeshPassword": SECRET},
        "spec.nodeMeshPassword",
        "nodeToNodeMeshEnabled is false",
    ),
    (
        "mesh restart time with mesh off",
        {"nodeToNodeMeshEnabled": False, "nodeMeshMaxRestartTime": "200s"},
        "spec.nodeMeshMaxRestartTime",
        "nodeToNodeMeshEnabled is false",
    ),
    (
        "wildcard-only ignored interface",
        {"ignoredInterfaces": ["*"]},
        "spec.ignoredInterfaces[0]",
        "interface",
    ),
    (
        "community without advertisements",
        {"communities": [{"name": "community-test", "value": "101:5695"}]},
        "spec.communities",
        "not used in prefixAdvertisements",
    ),
    (
        "community without name",
        {"communities": [{"value": "536:785"}], "prefixAdvertisements": [ADVERT]},
        "spec.communities[0].name",
        "is required",
    ),
    (
        "community without value",
        {"communities": [{"name": "community-test"}], "prefixAdvertisements": [ADVERT]},
        "spec.communities[0].value",
        "is required",
    ),
    (
        "community value 100",
        {"communities": [{"name": "c", "value": "100"}], "prefixAdvertisements": [ADVERT]},
        "spec.communities[0].value",
        "invalid community",
    ),
    (
        "community value ab-n",
        {"communities": [{"name": "c", "value": "ab-n"}], "prefixAdvertisements": [ADVERT]},
        "spec.communities[0].value",
        "invalid community",
    ),
    (
        "standard community over 16 bits",
        {"communities": [{"name": "c", "value": "65536:999999"}], "prefixAdvertisements": [ADVERT]},
        "spec.communities[0].value",
        "16 bit",
    ),
    (
        "large community over 32 bits",
        {
            "communities": [{"name": "c", "value": "4147483647:999999"}],
            "prefixAdvertisements": [ADVERT],
        },
        "spec.communities[0].value",
        "invalid community",
    ),
    (
        "advertisement without CIDR",
        {"prefixAdvertisements": [{"communities": ["100:5964"]}]},
        "spec.prefixAdvertisements[0].cidr",
        "is required",
    ),
    (
        "advertisement without communities",
        {"prefixAdvertisements": [{"cidr": "192.168.10.0/28"}]},
        "spec.prefixAdvertisements[0].communities",
        "is required",
    ),
    (
        "advertised standard community over 16 bits",
        {"prefixAdvertisements": [{"cidr": "2001:4860::/128", "communities": ["100:1147483647"]}]},
        "spec.prefixAdvertisements[0].communities[0]",
        "neither",
    ),
    (
        "advertised large community over 32 bits",
        {
            "prefixAdvertisements": [
                {"cidr": "2001:4860::/128", "communities": ["100:100:5147483647"]}
            ]
        },
        "spec.prefixAdvertisements[0].communities[0]",
        "neither",
    ),
    (
        "undefined community name",
        {
            "prefixAdvertisements": [
                {"cidr": "2001:4860::/128", "communities": ["nonexistent-community"]}
            ]
        },
        "spec.prefixAdvertisements[0].communities[0]",
        "neither",
    ),
    (
        "bad workload peering IPv4",
        {"localWorkloadPeeringIPV4": "999.999.999.999"},
        "spec.localWorkloadPeeringIPV4",
        "invalid IP address",
    ),
    (
        "bad workload peering IPv6",
        {"localWorkloadPeeringIPV6": "xyz:::"},
        "spec.localWorkloadPeeringIPV6",
        "invalid IP address",
    ),
    ("listen port too high", {"listenPort": 65536}, "spec.listenPort", "<= 65535"),
    ("bad bind mode", {"bindMode": "All"}, "spec.bindMode", "must be"),
    ("route priority 0", {"ipv4NormalRoutePriority": 0}, "spec.ipv4NormalRoutePriority", ">= 1"),
    (
        "bad duration",
        {"nodeMeshMaxRestartTime": "2 minutes"},
        "spec.nodeMeshMaxRestartTime",
        "duration",
    ),
]


@pytest.mark.parametrize(
    ("case", "spec", "field", "message"), INVALID_CONFIG, ids=[c[0] for c in INVALID_CONFIG]
)
def test_invalid_bgp_configurations(
    case: str, spec: dict[str, Any], field: str, message: str
) -> None:
    rejects(doc("BGPConfiguration", spec, name="default"), field, message)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"nodeToNodeMeshEnabled": True}, "spec.nodeToNodeMeshEnabled"),
        ({"asNumber": 65000}, "spec.asNumber"),
        ({"serviceClusterIPs": [{"cidr": "10.96.0.0/12"}]}, "spec.serviceClusterIPs"),
        ({"nodeMeshPassword": SECRET}, "spec.nodeMeshPassword"),
    ],
)
def test_per_node_configuration_cannot_set_global_fields(spec: dict[str, Any], field: str) -> None:
    rejects(doc("BGPConfiguration", spec, name="node.node1"), field, "only be set on the 'default'")
    roundtrip(
        parse(
            "BGPConfiguration",
            {"listenPort": 1790, "logSeverityScreen": "Debug"},
            name="node.node1",
        )
    )


# ---------------------------------------------------------------------- BGPPeer

VALID_PEERS: list[tuple[str, dict[str, Any]]] = [
    ("IPv4 peer", {"peerIP": "1.2.3.4", "asNumber": 64513}),
    ("IPv4 peer with port", {"peerIP": "192.168.1.1:500", "asNumber": "64513"}),
    ("IPv6 peer with port", {"peerIP": "[9000::]:500", "asNumber": "1.10"}),
    (
        "node selector and peer selector",
        {"nodeSelector": "has(mylabel)", "peerSelector": "has(mylabel)"},
    ),
    ("reachableBy", {"peerIP": "9.9.9.9:4444", "reachableBy": "1.2.3.4"}),
    ("IPv6 reachableBy", {"peerIP": "[aabb::ffff]:4444", "reachableBy": "aabb:aabb::ffff"}),
    (
        "password",
        {
            "peerIP": "1.2.3.4",
            "password": {"secretKeyRef": {"name": "tigera-bgp-passwords", "key": "my-peering"}},
        },
    ),
    ("source address UseNodeIP", {"sourceAddress": "UseNodeIP"}),
    ("source address None", {"sourceAddress": "None"}),
    ("restart time", {"maxRestartTime": "10s", "keepaliveTime": "30s"}),
    ("local workload peering", {"localWorkloadSelector": "has(bgp)", "asNumber": 65001}),
    (
        "node-scoped",
        {
            "node": "node1",
            "peerIP": "10.0.0.1",
            "asNumber": 64512,
            "localASNumber": 65001,
            "nextHopMode": "Self",
            "numAllowedLocalASNumbers": 1,
            "ttlSecurity": 1,
            "filters": ["f1"],
            "reversePeering": "Manual",
        },
    ),
    ("empty spec", {}),
]


@pytest.mark.parametrize(("case", "spec"), VALID_PEERS, ids=[c for c, _ in VALID_PEERS])
def test_valid_peers(case: str, spec: dict[str, Any]) -> None:
    peer = parse("BGPPeer", spec, name="test-peer")
    assert isinstance(peer, BGPPeer)
    roundtrip(peer)


def test_as_numbers_are_normalised() -> None:
    peer = parse("BGPPeer", {"peerIP": "1.2.3.4", "asNumber": "1.10"})
    assert peer.to_dict()["spec"]["asNumber"] == 65546


INVALID_PEERS: list[tuple[str, dict[str, Any], str, str]] = [
    ("bad IPv4", {"peerIP": "999.999.999.999"}, "spec.peerIP", "invalid IP address"),
    ("bad IPv6", {"peerIP": "xyz:::"}, "spec.peerIP", "invalid IP address"),
    (
        "node and nodeSelector",
        {"node": "my-node", "nodeSelector": "has(mylabel)"},
        "spec.nodeSelector",
        "cannot both be set",
    ),
    (
        "peerIP and peerSelector",
        {"peerIP": "1.2.3.4", "peerSelector": "has(mylabel)"},
        "spec.peerSelector",
        "cannot both be set",
    ),
    (
        "asNumber and peerSelector",
        {"asNumber": 61234, "peerSelector": "has(mylabel)"},
        "spec.asNumber",
        "must be empty when peerSelector",
    ),
    (
        "localWorkloadSelector without asNumber",
        {"localWorkloadSelector": "has(labelone)"},
        "spec.asNumber",
        "required when localWorkloadSelector",
    ),
    (
        "localWorkloadSelector and peerSelector",
        {
            "localWorkloadSelector": "has(labelone)",
            "peerSelector": "has(labeltwo)",
            "asNumber": 61234,
        },
        "spec.peerSelector",
        "cannot both be set",
    ),
    (
        "localWorkloadSelector and peerIP",
        {"localWorkloadSelector": "has(labelone)", "peerIP": "1.2.3.4", "asNumber": 61234},
        "spec.peerIP",
        "cannot both be set",
    ),
    (
        "keepOriginalNextHop and nextHopMode",
        {"keepOriginalNextHop": True, "nextHopMode": "Auto"},
        "spec.nextHopMode",
        "cannot both be set",
    ),
    (
        "reachableBy without peerIP",
        {"reachableBy": "100.200.0.0"},
        "spec.reachableBy",
        "peerIP is empty",
    ),
    (
        "IPv6 reachableBy without peerIP",
        {"reachableBy": "aabb::abcd"},
        "spec.reachableBy",
        "peerIP is empty",
    ),
    (
        "bad reachableBy",
        {"peerIP": "9.9.9.9:4444", "reachableBy": "999.999.999.999"},
        "spec.reachableBy",
        "invalid IP address",
    ),
    (
        "bad IPv6 reachableBy",
        {"peerIP": "[aabb::ffff]:4444", "reachableBy": "xyz:::"},
        "spec.reachableBy",
        "invalid IP address",
    ),
    (
        "reachableBy v6, peer v4",
        {"peerIP": "1.2.3.4", "reachableBy": "aabb:aabb::ffff"},
        "spec.reachableBy",
        "same address family",
    ),
    (
        "reachableBy v6, peer v4:port",
        {"peerIP": "9.9.9.9:4444", "reachableBy": "aabb:aabb::ffff"},
        "spec.reachableBy",
        "same address family",
    ),
    (
        "reachableBy v4, peer v6",
        {"peerIP": "aabb:aabb::ffff", "reachableBy": "1.2.3.4"},
        "spec.reachableBy",
        "same address family",
    ),
    (
        "reachableBy v4, peer [v6]:port",
        {"peerIP": "[aabb::ffff]:4444", "reachableBy": "1.2.3.4"},
        "spec.reachableBy",
        "same address family",
    ),
    (
        "bad node selector",
        {"nodeSelector": "kubernetes.io/hostname: == 'casey-crc-kadm-node-4'"},
        "spec.nodeSelector",
        "invalid selector",
    ),
    ("port 98956 in brackets", {"peerIP": "[192.168.0.0]:98956"}, "spec.peerIP", "port"),
    ("port 65536", {"peerIP": "192.168.0.0:65536"}, "spec.peerIP", "port"),
    ("port 0", {"peerIP": "192.168.0.0:0"}, "spec.peerIP", "port"),
    ("bad IP with port", {"peerIP": "192.168.0.330:170"}, "spec.peerIP", "invalid IP address"),
    ("IPv6 port 98956", {"peerIP": "[9000::]:98956"}, "spec.peerIP", "port"),
    ("missing port", {"peerIP": "192.168.0.0:"}, "spec.peerIP", "invalid IP address"),
    ("missing IPv6 port", {"peerIP": "[9000::]:"}, "spec.peerIP", "invalid IP address"),
    ("IPv6 port 65536", {"peerIP": "[9000::]:65536"}, "spec.peerIP", "port"),
    ("IPv6 port 0", {"peerIP": "[9000::]:0"}, "spec.peerIP", "port"),
    ("bad IPv6 with port", {"peerIP": "[9000::FFFFF]:170"}, "spec.peerIP", "invalid IP address"),
    ("port with empty IPv4", {"peerIP": ":8552"}, "spec.peerIP", "invalid IP address"),
    ("port with empty IPv6", {"peerIP": "[]:8552"}, "spec.peerIP", "invalid IP address"),
    ("bad source address", {"sourceAddress": "rubbish"}, "spec.sourceAddress", "must be"),
    ("bad AS number", {"peerIP": "1.2.3.4", "asNumber": "1.2.3"}, "spec.asNumber", "AS number"),
    ("ttlSecurity too high", {"ttlSecurity": 256}, "spec.ttlSecurity", "<= 255"),
    ("bad next hop mode", {"nextHopMode": "Never"}, "spec.nextHopMode", "must be"),
]


@pytest.mark.parametrize(
    ("case", "spec", "field", "message"), INVALID_PEERS, ids=[c[0] for c in INVALID_PEERS]
)
def test_invalid_peers(case: str, spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("BGPPeer", spec, name="test-peer"), field, message)
