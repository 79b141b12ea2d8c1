"""Security group -> NetworkPolicy, with networking-calico's rule tables
(``test_plugin_etcd.py``: ``test_neutron_rule_to_etcd_rule_*``, ``test_sg_rule_*``
and the default security group)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from calico.openstack.policy import calico_protocol, calico_rule, network_policy, policy_spec


def neutron_rule(**overrides: Any) -> dict[str, Any]:
    """networking-calico's ``_neutron_rule_from_dict``: an IPv4 ingress rule, all fields None."""
    rule: dict[str, Any] = {
        "ethertype": "IPv4",
        "protocol": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "direction": "ingress",
        "port_range_min": None,
        "port_range_max": None,
    }
    rule.update(overrides)
    return rule


SELECTOR_FOOBAR = "has(sg.projectcalico.org/openstack-foobar)"

RULE_TABLE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # ICMP
    (
        "icmp, no type",
        neutron_rule(protocol="icmp"),
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP"},
    ),
    (
        "icmp, wildcards",
        neutron_rule(protocol="icmp", port_range_min=-1, port_range_max=-1),
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP"},
    ),
    (
        "icmp, type and code",
        neutron_rule(protocol="icmp", port_range_min=123, port_range_max=100),
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP", "icmp": {"type": 123, "code": 100}},
    ),
    (
        "icmp, type only",
        neutron_rule(protocol="icmp", port_range_min=8, port_range_max=None),
        {"action": "Allow", "ipVersion": 4, "protocol": "ICMP", "icmp": {"type": 8}},
    ),
    (
        "numeric protocol, egress to a group",
        neutron_rule(protocol=123, direction="egress", remote_group_id="foobar"),
        {
            "action": "Allow",
            "ipVersion": 4,
            "protocol": 123,
            "destination": {"selector": SELECTOR_FOOBAR},
        },
    ),
    (
        "icmp on IPv6 is ICMPv6",
        neutron_rule(ethertype="IPv6", protocol="icmp", port_range_min=123, port_range_max=100),
        {
            "action": "Allow",
            "ipVersion": 6,
            "protocol": "ICMPv6",
            "icmp": {"type": 123, "code": 100},
        },
    ),
    (
        "ipv6-icmp",
        neutron_rule(ethertype="IPv6", protocol="ipv6-icmp", port_range_min=135),
        {"action": "Allow", "ipVersion": 6, "protocol": "ICMPv6", "icmp": {"type": 135}},
    ),
    (
        "legacy icmpv6",
        neutron_rule(ethertype="IPv6", protocol="icmpv6"),
        {"action": "Allow", "ipVersion": 6, "protocol": "ICMPv6"},
    ),
    # ports
    (
        "ingress ports, no prefix",
        neutron_rule(protocol="tcp", port_range_min=25, port_range_max=34),
        {"action": "Allow", "ipVersion": 4, "protocol": "TCP", "destination": {"ports": ["25:34"]}},
    ),
    (
        "egress ports, no prefix",
        neutron_rule(direction="egress", protocol="tcp", port_range_min=25, port_range_max=34),
        {"action": "Allow", "ipVersion": 4, "protocol": "TCP", "destination": {"ports": ["25:34"]}},
    ),
    (
        "ingress ports with prefix",
        neutron_rule(
            protocol="tcp", remote_ip_prefix="1.2.3.0/24", port_range_min=25, port_range_max=34
        ),
        {
            "action": "Allow",
            "ipVersion": 4,
            "protocol": "TCP",
            "source": {"nets": ["1.2.3.0/24"]},
            "destination": {"ports": ["25:34"]},
        },
    ),
    (
        "egress ports with prefix",
        neutron_rule(
            direction="egress",
            protocol="tcp",
            remote_ip_prefix="1.2.3.0/24",
            port_range_min=25,
            port_range_max=34,
        ),
        {
            "action": "Allow",
            "ipVersion": 4,
            "protocol": "TCP",
            "destination": {"nets": ["1.2.3.0/24"], "ports": ["25:34"]},
        },
    ),
    (
        "single port",
        neutron_rule(protocol="udp", port_range_min=53, port_range_max=53),
        {"action": "Allow", "ipVersion": 4, "protocol": "UDP", "destination": {"ports": [53]}},
    ),
    (
        "port -1 is any",
        neutron_rule(protocol="tcp", port_range_min=-1, port_range_max=-1),
        {"action": "Allow", "ipVersion": 4, "protocol": "TCP"},
    ),
    # remote group and prefix together
    (
        "ingress from a group and a prefix",
        neutron_rule(
            protocol="tcp",
            port_range_min=80,
            port_range_max=80,
            remote_group_id="foobar",
            remote_ip_prefix="10.0.0.0/8",
        ),
        {
            "action": "Allow",
            "ipVersion": 4,
            "protocol": "TCP",
            "source": {"selector": SELECTOR_FOOBAR, "nets": ["10.0.0.0/8"]},
            "destination": {"ports": [80]},
        },
    ),
    (
        "IPv6 prefix",
        neutron_rule(ethertype="IPv6", remote_ip_prefix="2001:db8::/32"),
        {"action": "Allow", "ipVersion": 6, "source": {"nets": ["2001:db8::/32"]}},
    ),
    (
        "egress everything",
        neutron_rule(direction="egress", protocol=-1, port_range_min=-1),
        {"action": "Allow", "ipVersion": 4},
    ),
]


@pytest.mark.parametrize(("label", "rule", "expected"), RULE_TABLE, ids=[t[0] for t in RULE_TABLE])
def test_rule_translation(label: str, rule: dict[str, Any], expected: dict[str, Any]) -> None:
    assert calico_rule(rule) == expected


@pytest.mark.parametrize(
    ("neutron", "ethertype", "calico"),
    [
        (None, "IPv4", None),
        (-1, "IPv4", None),
        (0, "IPv4", None),
        ("any", "IPv4", None),
        ("0", "IPv4", None),
        ("tcp", "IPv4", "TCP"),
        ("udp", "IPv6", "UDP"),
        ("sctp", "IPv4", "SCTP"),
        ("udplite", "IPv4", "UDPLite"),
        ("icmp", "IPv4", "ICMP"),
        ("icmp", "IPv6", "ICMPv6"),
        ("ipv6-icmp", "IPv6", "ICMPv6"),
        # networking-calico's protocol-name table: names map to their numbers
        ("esp", "IPv4", 50),
        ("ah", "IPv4", 51),
        ("rsvp", "IPv4", 46),
        ("gre", "IPv4", 47),
        ("vrrp", "IPv4", 112),
        ("123", "IPv4", 123),
        (132, "IPv4", 132),
    ],
)
def test_protocols(neutron: Any, ethertype: str, calico: Any) -> None:
    assert calico_protocol(neutron, ethertype) == calico


def _default_sg_rules(sg_id: str) -> list[dict[str, Any]]:
    """Neutron's default group: ingress from members, egress anywhere, both families."""
    return [
        neutron_rule(
            security_group_id=sg_id, remote_group_id=sg_id, protocol=-1, port_range_min=-1
        ),
        neutron_rule(
            security_group_id=sg_id,
            remote_group_id=sg_id,
            protocol=-1,
            port_range_min=-1,
            ethertype="IPv6",
        ),
        neutron_rule(security_group_id=sg_id, direction="egress", protocol=-1, port_range_min=-1),
        neutron_rule(
            security_group_id=sg_id,
            direction="egress",
            protocol=-1,
            port_range_min=-1,
            ethertype="IPv6",
        ),
    ]


def test_default_security_group_policy() -> None:
    selector = "has(sg.projectcalico.org/openstack-sgid-default)"
    policy = network_policy("sgid-default", _default_sg_rules("sgid-default"), "openstack")
    doc = policy.to_dict()
    assert doc["metadata"]["name"] == "ossg.default.sgid-default"
    assert doc["metadata"]["namespace"] == "openstack"
    assert doc["spec"]["selector"] == selector
    assert doc["spec"]["ingress"] == [
        {"action": "Allow", "ipVersion": 4, "source": {"selector": selector}},
        {"action": "Allow", "ipVersion": 6, "source": {"selector": selector}},
    ]
    assert doc["spec"]["egress"] == [
        {"action": "Allow", "ipVersion": 4},
        {"action": "Allow", "ipVersion": 6},
    ]
    assert doc["spec"]["types"] == ["Ingress", "Egress"]


def test_rules_of_other_groups_are_ignored() -> None:
    rules = [*_default_sg_rules("a"), neutron_rule(security_group_id="b", protocol="tcp")]
    spec = policy_spec("b", rules)
    assert spec["ingress"] == [{"action": "Allow", "ipVersion": 4, "protocol": "TCP"}]
    assert spec["egress"] == []


def test_a_group_without_rules_selects_its_members_and_allows_nothing() -> None:
    doc = network_policy("empty", [], "openstack-region-r1").to_dict()
    assert doc["metadata"]["namespace"] == "openstack-region-r1"
    assert doc["spec"]["selector"] == "has(sg.projectcalico.org/openstack-empty)"
    assert "ingress" not in doc["spec"]
    assert "egress" not in doc["spec"]


def test_rule_calico_cannot_express_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    # Neutron allows port ranges with DCCP; Calico only with TCP, UDP and SCTP.
    rules = [
        neutron_rule(protocol="dccp", port_range_min=80, port_range_max=81),
        neutron_rule(protocol="tcp", port_range_min=22, port_range_max=22),
    ]
    with caplog.at_level(logging.WARNING):
        spec = network_policy("sg", rules, "openstack").to_dict()["spec"]
    assert spec["ingress"] == [
        {"action": "Allow", "ipVersion": 4, "protocol": "TCP", "destination": {"ports": [22]}}
    ]
    assert "left out" in caplog.text
