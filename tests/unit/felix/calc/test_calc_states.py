"""Scenarios ported from Calico's ``felix/calc/states_for_test.go``, expected states by hand.

Each test builds a datastore (v3 resources instead of Calico's v1 model
keys), runs it through the calc graph into the recording dataplane, and
compares against IP set members, active policies/profiles and per-endpoint
tiers written out here - not derived from the implementation.
"""

from __future__ import annotations

from typing import Any

from calico.felix.calc.graph import CalcGraph
from calico.felix.calc.rule_scanner import IPSetSpec
from calico.felix.messages import IPSetType, PolicyID, ProfileID, TierInfo, WorkloadEndpointID
from calico.felix.recording import DataplaneState, RecordingDataplane
from calico.selector import parse
from tests.unit.felix import v3

LOCAL, REMOTE = "localhostname", "remotehostname"
EP1 = WorkloadEndpointID("k8s", "ns/wl1", "eth0")
EP2 = WorkloadEndpointID("k8s", "ns/wl2", "eth0")
POL1 = PolicyID("pol-1", "", "gnp")
EP1_IPS = ["10.0.0.1/32", "10.0.0.2/32", "fc00:fe11::1/128", "fc00:fe11::2/128"]
EP2_IPS = ["10.0.0.2/32", "10.0.0.3/32", "fc00:fe11::2/128", "fc00:fe11::3/128"]
EP1_PORTS = [("tcpport", "TCP", 8080), ("tcpport2", "TCP", 1234), ("udpport", "UDP", 9091)]
EP2_PORTS = [("tcpport", "TCP", 8080), ("tcpport2", "TCP", 2345), ("udpport", "UDP", 9090)]


def ep1(node: str = LOCAL, **kw: Any) -> v3.KV:
    kw.setdefault("profiles", ["prof-1", "prof-2", "prof-missing"])
    kw.setdefault("ports", EP1_PORTS)
    return v3.wep("ns", node, "wl1", EP1_IPS, {"id": "loc-ep-1", "a": "a", "b": "b"}, **kw)


def ep2(**kw: Any) -> v3.KV:
    kw.setdefault("profiles", ["prof-2", "prof-3"])
    kw.setdefault("ports", EP2_PORTS)
    return v3.wep("ns", LOCAL, "wl2", EP2_IPS, {"id": "loc-ep-2", "a": "a", "b": "b2"}, **kw)


def pol1(ingress: list[dict[str, Any]], egress: list[dict[str, Any]], **kw: Any) -> v3.KV:
    return v3.gnp("pol-1", "a == 'a'", order=20, ingress=ingress, egress=egress, **kw)


POLICY1 = pol1([v3.rule(source={"selector": "all()"})], [v3.rule(source={"selector": "b == 'b'"})])


def run(*kvs: v3.KV) -> DataplaneState:
    graph, dataplane = CalcGraph(LOCAL), RecordingDataplane()
    for key, value in kvs:
        graph.on_update(key, value)
    graph.on_in_sync()
    dataplane.apply(graph.flush())
    return dataplane.state()


def sel_set(text: str) -> str:
    return parse(text).unique_id


def port_set(selector: str, protocol: str, port: str) -> str:
    return IPSetSpec(str(parse(selector)), port, protocol).id


def members(state: DataplaneState) -> dict[str, set[str]]:
    return {set_id: set(m) for set_id, (_, m) in state.ipsets.items()}


def both_ways(*policies: PolicyID) -> tuple[TierInfo, ...]:
    return (TierInfo("default", policies, policies, "Deny"),)


def test_ep1_local_with_policy() -> None:
    # localEp1WithPolicy
    state = run(v3.tier("default", 20), POLICY1, ep1())
    assert members(state) == {sel_set("all()"): set(EP1_IPS), sel_set("b == 'b'"): set(EP1_IPS)}
    assert set(state.policies) == {POL1}
    assert set(state.profiles) == {
        ProfileID("prof-1"),
        ProfileID("prof-2"),
        ProfileID("prof-missing"),
    }
    assert state.workload_endpoints[EP1].tiers == both_ways(POL1)


def test_remote_endpoint_activates_nothing() -> None:
    # A remote endpoint matching the policy: no active policy, hence no IP sets.
    state = run(POLICY1, ep1(node=REMOTE))
    assert (state.ipsets, state.policies, state.profiles, state.workload_endpoints) == (
        {},
        {},
        {},
        {},
    )


def test_two_local_endpoints_overlapping_ips() -> None:
    # localEpsWithPolicy: the shared 10.0.0.2 is in all() once; only ep1 has b == "b".
    state = run(POLICY1, ep1(), ep2())
    assert members(state) == {
        sel_set("all()"): set(EP1_IPS) | set(EP2_IPS),
        sel_set("b == 'b'"): set(EP1_IPS),
    }
    assert state.workload_endpoints[EP2].tiers == both_ways(POL1)
    assert set(state.profiles) == {
        ProfileID(p) for p in ("prof-1", "prof-2", "prof-3", "prof-missing")
    }


def test_named_port_policy_over_overlapping_endpoints() -> None:
    # localEpsWithNamedPortsPolicy: the all() selector set is covered by the named port set.
    policy = pol1(
        [v3.rule(protocol="TCP", source={"selector": "all()", "ports": ["tcpport"]})],
        [v3.rule(source={"selector": "b == 'b'"})],
    )
    state = run(policy, ep1(), ep2())
    assert members(state) == {
        port_set("all()", "tcp", "tcpport"): {
            "10.0.0.1,tcp:8080",
            "fc00:fe11::1,tcp:8080",
            "10.0.0.2,tcp:8080",
            "fc00:fe11::2,tcp:8080",
            "10.0.0.3,tcp:8080",
            "fc00:fe11::3,tcp:8080",
        },
        sel_set("b == 'b'"): set(EP1_IPS),
    }
    assert state.ipsets[port_set("all()", "tcp", "tcpport")][0] is IPSetType.IP_AND_PORT


def test_named_port_shared_ip_different_port_numbers() -> None:
    # localEpsWithNamedPortsPolicyTCPPort2
    policy = pol1(
        [v3.rule(protocol="TCP", source={"selector": "all()", "ports": ["tcpport2"]})], []
    )
    state = run(policy, ep1(), ep2())
    assert members(state)[port_set("all()", "tcp", "tcpport2")] == {
        "10.0.0.1,tcp:1234",
        "fc00:fe11::1,tcp:1234",
        "10.0.0.2,tcp:1234",
        "10.0.0.2,tcp:2345",
        "fc00:fe11::2,tcp:1234",
        "fc00:fe11::2,tcp:2345",
        "10.0.0.3,tcp:2345",
        "fc00:fe11::3,tcp:2345",
    }


def test_named_ports_with_mismatched_protocol_are_empty() -> None:
    # localEpsWithMismatchedNamedPortsPolicy
    policy = pol1(
        [v3.rule(protocol="TCP", source={"ports": ["udpport"]})],
        [v3.rule(protocol="UDP", source={"ports": ["tcpport"]})],
    )
    state = run(policy, ep1(), ep2())
    assert members(state) == {
        port_set("all()", "tcp", "udpport"): set(),
        port_set("all()", "udp", "tcpport"): set(),
    }


INHERIT_POLICY = v3.gnp(
    "inherit-pol",
    "a == 'a'",
    order=20,
    ingress=[
        v3.rule(protocol="TCP", source={"selector": "profile == 'prof-1'", "ports": ["tcpport"]})
    ],
)
INHERIT_SET = port_set("profile == 'prof-1'", "tcp", "tcpport")
EP1_8080 = {
    "10.0.0.1,tcp:8080",
    "fc00:fe11::1,tcp:8080",
    "10.0.0.2,tcp:8080",
    "fc00:fe11::2,tcp:8080",
}
EP2_8080 = {
    "10.0.0.2,tcp:8080",
    "fc00:fe11::2,tcp:8080",
    "10.0.0.3,tcp:8080",
    "fc00:fe11::3,tcp:8080",
}


def test_named_port_policy_matching_inherited_labels() -> None:
    prof1 = v3.profile("prof-1", {"profile": "prof-1"})
    # ...OnEP1: only ep1 inherits profile == prof-1.
    state = run(prof1, INHERIT_POLICY, ep1(), ep2())
    assert members(state) == {INHERIT_SET: EP1_8080}
    inherit = PolicyID("inherit-pol", "", "gnp")
    assert state.workload_endpoints[EP1].tiers == both_ways(inherit)
    assert state.workload_endpoints[EP2].tiers == both_ways(inherit)
    # ...BothEPs: prof-2 gets the same labels.
    prof2_same = v3.profile("prof-2", {"profile": "prof-1"})
    state = run(prof1, prof2_same, INHERIT_POLICY, ep1(), ep2())
    assert members(state) == {INHERIT_SET: EP1_8080 | EP2_8080}
    # ...DuplicatePorts: ep1 declares tcpport three times.
    dupes = [("tcpport", "TCP", 8080), ("tcpport", "TCP", 8081), ("tcpport", "TCP", 8082)]
    state = run(prof1, prof2_same, INHERIT_POLICY, ep1(ports=dupes), ep2())
    extra = {
        f"{ip},tcp:{port}"
        for ip in ("10.0.0.1", "fc00:fe11::1", "10.0.0.2", "fc00:fe11::2")
        for port in (8081, 8082)
    }
    assert members(state) == {INHERIT_SET: EP1_8080 | EP2_8080 | extra}
    # ...NoLongerMatchingInheritedLabelOnEP2, then on EP1.
    prof2_other = v3.profile("prof-2", {"profile": "prof-2"})
    assert members(run(prof1, prof2_other, INHERIT_POLICY, ep1(), ep2())) == {INHERIT_SET: EP1_8080}
    prof1_other = v3.profile("prof-1", {"profile": "prof-2"})
    assert members(run(prof1_other, prof2_other, INHERIT_POLICY, ep1(), ep2())) == {
        INHERIT_SET: set()
    }
    # ...EP2ProfileRemoved: ep2 keeps its labels but lists no profiles.
    state = run(prof1, prof2_same, INHERIT_POLICY, ep1(), ep2(profiles=[]))
    assert members(state) == {INHERIT_SET: EP1_8080}
    assert set(state.profiles) == {
        ProfileID("prof-1"),
        ProfileID("prof-2"),
        ProfileID("prof-missing"),
    }


def test_tiers_with_pass_and_ordering() -> None:
    # Two tiers (the localEp1WithPolicyAndTier family), plus the implicit default tier.
    pol_a = v3.gnp("pol-a", "a == 'a'", tier="tier-1", order=20, types=["Ingress"])
    pol_b = v3.gnp("pol-b", "all()", tier="tier-1", order=10, types=["Egress"])
    pol_c = v3.gnp("pol-c", "b == 'b'", order=5)
    state = run(
        v3.tier("tier-1", 20, "Pass"), v3.tier("tier-2", 30), pol_a, pol_b, pol_c, ep1(), ep2()
    )
    a, b, c = (PolicyID(n, "", "gnp") for n in ("pol-a", "pol-b", "pol-c"))
    assert state.workload_endpoints[EP1].tiers == (
        TierInfo("tier-1", (a,), (b,), "Pass"),
        TierInfo("default", (c,), (c,), "Deny"),
    )
    assert state.workload_endpoints[EP2].tiers == (TierInfo("tier-1", (a,), (b,), "Pass"),)
    assert state.policy_order(EP1, "ingress") == [a, c]
    assert state.policy_order(EP1, "egress") == [b, c]


def test_network_set_reached_only_from_its_namespace() -> None:
    # NetworkSets get the namespace label and parent kns.<ns> (REFERENCE 2.14).
    ns_policy = v3.np(
        "ns",
        "from-blocked",
        "a == 'a'",
        ingress=[v3.rule("Deny", source={"selector": "role == 'bad'"})],
    )
    state = run(
        ns_policy,
        ep1(),
        v3.netset("ns", "mine", ["192.0.2.0/24"], {"role": "bad"}),
        v3.netset("other", "theirs", ["198.51.100.0/24"], {"role": "bad"}),
        v3.gnetset("global", ["203.0.113.0/24"], {"role": "bad"}),
        v3.profile("kns.ns", {"pcns.team": "x"}),
    )
    scoped = sel_set("(projectcalico.org/namespace == 'ns') && (role == 'bad')")
    assert members(state) == {scoped: {"192.0.2.0/24"}}
