"""v3 JSON -> felix model: identities, selectors scoping (REFERENCE 2.16), rules, resources."""

from __future__ import annotations

from typing import Any

import pytest

from calico.felix.calc.model import (
    BlockModel,
    EndpointModel,
    ModelRule,
    NamedPort,
    NetworkSetID,
    NetworkSetModel,
    NodeModel,
    PolicyModel,
    PoolModel,
    ProfileModel,
    TierModel,
    WorkloadEndpointKey,
)
from calico.felix.calc.rules_convert import entity_selector, rule_from_v3
from calico.felix.convert import Converted, NamedID, convert_kv, workload_endpoint_key
from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    NatInfo,
    PolicyID,
    PortRange,
    WorkloadEndpoint,
    WorkloadEndpointID,
)
from calico.selector import parse
from tests.unit.felix import v3

NS = "projectcalico.org/namespace"


def canon(text: str) -> str:
    return str(parse(text))


def convert(kv: tuple[str, dict[str, Any] | None]) -> Converted:
    converted = convert_kv(*kv)
    assert converted is not None
    return converted


def policy_of(kv: v3.KV) -> PolicyModel:
    model = convert(kv).model
    assert isinstance(model, PolicyModel)
    return model


# -- identities ---------------------------------------------------------------------


def test_policy_ids_from_keys() -> None:
    assert convert(v3.gnp("p")).id == PolicyID("p", "", "gnp")
    assert convert(v3.np("ns1", "p")).id == PolicyID("p", "ns1", "np")
    assert convert(v3.np("ns1", "knp.default.web")).id == PolicyID("knp.default.web", "ns1", "knp")


def test_workload_id_parses_the_calico_name_with_escaped_dashes() -> None:
    # node--1 is "node-1"; the split is on single dashes only.
    key = workload_endpoint_key("ns1", "node--1-k8s-my--pod-eth0")
    assert key == WorkloadEndpointKey("node-1", "k8s", "ns1/my-pod", "eth0")
    assert key.to_id() == WorkloadEndpointID("k8s", "ns1/my-pod", "eth0")
    assert workload_endpoint_key("ns1", "h-cni-abc-eth0") == WorkloadEndpointKey(
        "h", "cni", "ns1/abc", "eth0"
    )
    assert workload_endpoint_key("ns1", "weird") == WorkloadEndpointKey("", "", "ns1/weird", "")


def test_deletion_keeps_the_identity() -> None:
    key, _ = v3.wep("ns1", "host1", "pod-a", ["10.0.0.1"])
    converted = convert((key, None))
    assert converted == Converted(WorkloadEndpointKey("host1", "k8s", "ns1/pod-a", "eth0"), None)


def test_keys_felix_ignores() -> None:
    assert convert_kv("/calico/resources/v3/projectcalico.org/bgppeers/p", {"spec": {}}) is None
    assert convert_kv("/calico/ipam/v2/handle/x", {}) is None
    assert convert_kv("/something/else", {}) is None


def test_invalid_value_is_treated_as_deleted() -> None:
    key, value = v3.gnp("p", "a == ")  # selector does not parse
    assert convert((key, value)) == Converted(PolicyID("p", "", "gnp"), None)
    key, value = v3.gnp("p", ingress=[{"action": "Maybe"}])
    assert convert((key, value)).model is None


# -- policies -----------------------------------------------------------------------


def test_network_policy_selector_is_anded_with_its_namespace() -> None:
    assert policy_of(v3.np("ns1", "p", "app == 'web'")).selector == canon(
        f"(app == 'web') && {NS} == 'ns1'"
    )
    assert policy_of(v3.np("ns1", "p")).selector == canon(f"{NS} == 'ns1'")


def test_global_policy_namespace_selector_uses_pcns_labels() -> None:
    policy = policy_of(v3.gnp("p", "app == 'x'", namespaceSelector="env == 'prod'"))
    assert policy.selector == canon("(app == 'x') && pcns.env == 'prod'")
    everything = policy_of(v3.gnp("p", "", namespaceSelector="all()"))
    assert everything.selector == canon(f"has({NS})")


def test_service_account_selector_uses_pcsa_labels() -> None:
    policy = policy_of(v3.np("ns1", "p", "", serviceAccountSelector="role == 'db'"))
    assert policy.selector == canon(f"({NS} == 'ns1') && pcsa.role == 'db'")


def test_policy_fields() -> None:
    policy = policy_of(
        v3.gnp(
            "p", "all()", order=5, tier="t1", types=["Egress"], doNotTrack=True, applyOnForward=True
        )
    )
    assert (policy.order, policy.tier, policy.ingress, policy.egress) == (5.0, "t1", False, True)
    assert policy.untracked
    assert policy.apply_on_forward
    assert not policy.pre_dnat
    both = policy_of(v3.gnp("p"))
    assert (both.order, both.ingress, both.egress, both.selector) == (None, True, True, "all()")
    hinted = policy_of(v3.gnp("p", performanceHints=["AssumeNeededOnEveryNode"]))
    assert hinted.always_programmed


# -- rules --------------------------------------------------------------------------


def test_rule_basics() -> None:
    rule = rule_from_v3(
        {
            "action": "Pass",
            "protocol": "TCP",
            "source": {"nets": ["10.0.0.1", "10.1.2.3/16"], "notPorts": [22]},
            "destination": {"ports": [80, "8000:8080", "http"], "notNets": ["fd00::1/64"]},
            "metadata": {"annotations": {"b": "2", "a": "1"}},
        },
        "",
    )
    assert rule == ModelRule(
        action="next-tier",
        protocol="tcp",
        src_net=("10.0.0.1/32", "10.1.0.0/16"),
        not_src_ports=(PortRange(22, 22),),
        dst_ports=(PortRange(80, 80), PortRange(8000, 8080)),
        dst_named_ports=("http",),
        not_dst_net=("fd00::/64",),
        annotations=(("a", "1"), ("b", "2")),
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [("Allow", "allow"), ("Deny", "deny"), ("Pass", "next-tier"), ("Log", "log")],
)
def test_actions(action: str, expected: str) -> None:
    assert rule_from_v3({"action": action}, "").action == expected


def test_icmp_and_ip_version() -> None:
    rule = rule_from_v3({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}}, "")
    assert (rule.protocol, rule.ip_version, rule.icmp_type, rule.icmp_code) == ("icmp", 4, 8, 0)
    rule = rule_from_v3({"action": "Deny", "protocol": "ICMPv6", "notICMP": {"type": 128}}, "")
    assert (rule.ip_version, rule.not_icmp_type, rule.not_icmp_code) == (6, 128, None)
    rule = rule_from_v3(
        {"action": "Allow", "protocol": 132, "ipVersion": 6, "notProtocol": "UDPLite"}, ""
    )
    assert (rule.protocol, rule.ip_version, rule.not_protocol) == (132, 6, "udplite")


def test_bad_port_range_is_invalid() -> None:
    key, value = v3.gnp("p", ingress=[v3.rule(protocol="TCP", destination={"ports": ["90:80"]})])
    assert convert((key, value)).model is None


def test_entity_with_only_nets_is_not_namespace_scoped() -> None:
    assert entity_selector({"nets": ["10.0.0.0/8"]}, "ns1") == ""


def test_entity_selector_is_scoped_to_the_policy_namespace() -> None:
    assert entity_selector({"selector": "app == 'db'"}, "ns1") == canon(
        f"({NS} == 'ns1') && (app == 'db')"
    )
    # Global policies are not scoped.
    assert entity_selector({"selector": "app == 'db'"}, "") == canon("app == 'db'")


def test_not_selector_alone_gets_the_namespace_term_and_passes_through_unscoped() -> None:
    rule = rule_from_v3({"action": "Allow", "source": {"notSelector": "app == 'db'"}}, "ns1")
    assert rule.src_selector == canon(f"{NS} == 'ns1'")
    assert rule.not_src_selector == canon("app == 'db'")


def test_namespace_selector_rewrites() -> None:
    assert entity_selector(
        {"namespaceSelector": "env == 'prod'", "selector": "app == 'db'"}, "ns1"
    ) == canon("(pcns.env == 'prod') && (app == 'db')")
    assert entity_selector({"namespaceSelector": "all()"}, "ns1") == canon(f"has({NS})")
    assert entity_selector({"namespaceSelector": "global()"}, "") == canon(f"!has({NS})")


def test_service_accounts_in_rules() -> None:
    selector = entity_selector(
        {"serviceAccounts": {"names": ["sa1", "sa2"], "selector": "x == 'y'"}}, "ns1"
    )
    sa_names = "projectcalico.org/serviceaccount in {'sa1', 'sa2'}"
    assert selector == canon(f"({NS} == 'ns1') && ((pcsa.x == 'y') && ({sa_names}))")


def test_rules_with_services_are_dropped() -> None:
    policy = policy_of(
        v3.gnp(
            "p",
            ingress=[
                v3.rule(destination={"services": {"name": "s", "namespace": "n"}}),
                v3.rule("Deny"),
            ],
        )
    )
    assert [r.action for r in policy.inbound_rules] == ["deny"]


# -- endpoints and sets ---------------------------------------------------------------


def test_workload_endpoint() -> None:
    key, value = v3.wep(
        "ns1",
        "host1",
        "pod-a",
        ["10.0.0.1/32", "fd00::1"],
        {"app": "web", "pcns.evil": "x"},
        profiles=["kns.ns1", "ksa.ns1.default"],
        ports=[("http", "TCP", 80)],
        iface="cali12345",
    )
    value["spec"]["mac"] = "ee:ee:ee:ee:ee:ee"
    value["spec"]["serviceAccountName"] = "default"
    value["spec"]["ipNATs"] = [{"internalIP": "10.0.0.1", "externalIP": "172.16.0.1"}]
    value["metadata"]["annotations"] = {"k": "v"}
    model = convert((key, value)).model
    assert model == EndpointModel(
        id=WorkloadEndpointKey("host1", "k8s", "ns1/pod-a", "eth0"),
        node="host1",
        labels={
            "app": "web",
            NS: "ns1",
            "projectcalico.org/orchestrator": "k8s",
            "projectcalico.org/serviceaccount": "default",
        },
        profile_ids=("kns.ns1", "ksa.ns1.default"),
        nets=("10.0.0.1/32", "fd00::1/128"),
        ports=(NamedPort("http", "tcp", 80),),
        payload=WorkloadEndpoint(
            name="cali12345",
            mac="ee:ee:ee:ee:ee:ee",
            profile_ids=("kns.ns1", "ksa.ns1.default"),
            ipv4_nets=("10.0.0.1/32",),
            ipv6_nets=("fd00::1/128",),
            ipv4_nat=(NatInfo(ext_ip="172.16.0.1", int_ip="10.0.0.1"),),
            annotations=(("k", "v"),),
        ),
    )


def test_workload_without_addresses_is_filtered_out() -> None:
    assert convert(v3.wep("ns1", "host1", "pod-a", [])).model is None


def test_host_endpoint() -> None:
    model = convert(
        v3.hep("h1", "host1", ["10.0.0.5", "fd00::5"], {"role": "gw"}, profiles=["p"])
    ).model
    assert model == EndpointModel(
        id=HostEndpointID("h1"),
        node="host1",
        labels={"role": "gw"},
        profile_ids=("p",),
        nets=("10.0.0.5/32", "fd00::5/128"),
        ports=(),
        payload=HostEndpoint(
            name="eth0",
            profile_ids=("p",),
            expected_ipv4_addrs=("10.0.0.5",),
            expected_ipv6_addrs=("fd00::5",),
        ),
    )


def test_network_sets() -> None:
    namespaced = convert(
        v3.netset("ns1", "blocked", ["192.168.1.0/24", "bogus", "10.0.0.1"], {"a": "b"})
    )
    assert namespaced.model == NetworkSetModel(
        NetworkSetID("ns1/blocked"),
        {"a": "b", NS: "ns1"},
        ("192.168.1.0/24", "10.0.0.1/32"),
        ("kns.ns1",),
    )
    global_set = convert(v3.gnetset("world", ["0.0.0.0/0"]))
    assert global_set.model == NetworkSetModel(NetworkSetID("world"), {}, ("0.0.0.0/0",), ())


def test_tier_and_profile() -> None:
    assert convert(v3.tier("t1", 10, "Pass")).model == TierModel("t1", 10.0, "Pass")
    assert convert(v3.tier("t2", None)).model == TierModel("t2", None, "Deny")
    model = convert(v3.profile("kns.ns1", {"pcns.env": "prod"}, ingress=[v3.rule()])).model
    assert model == ProfileModel("kns.ns1", (ModelRule("allow"),), (), {"pcns.env": "prod"})


# -- pools, nodes, blocks ---------------------------------------------------------------


def test_pool_and_node() -> None:
    pool = convert(v3.pool("default-ipv4-ippool", "10.65.0.0/16", vxlan="CrossSubnet", nat=True))
    assert pool.id == NamedID("IPPool", "default-ipv4-ippool")
    assert pool.model == PoolModel(
        "default-ipv4-ippool", "10.65.0.0/16", "Never", "CrossSubnet", True
    )
    node = convert(
        v3.node("host1", "192.168.0.1/24", vxlan_addr="10.65.0.1", mac="66:00:00:00:00:01")
    )
    assert node.model == NodeModel("host1", "192.168.0.1/24", "10.65.0.1", "66:00:00:00:00:01")


def test_block_with_borrowed_addresses() -> None:
    converted = convert(v3.block("10.65.0.0/26", "host1", {0: "host1", 5: "host2"}))
    assert converted.id == NamedID("IPAMBlock", "10.65.0.0-26")
    assert converted.model == BlockModel("10.65.0.0/26", "host1", (("10.65.0.5/32", "host2"),))
    key, value = v3.block("10.65.0.64/26", "host1")
    value["deleted"] = True
    assert convert((key, value)).model is None
