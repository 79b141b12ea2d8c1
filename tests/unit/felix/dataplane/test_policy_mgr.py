"""Policies and profiles: which tables get their chains, and removal."""

from __future__ import annotations

from calico.felix.messages import (
    ActivePolicyRemove,
    HostEndpoint,
    HostEndpointID,
    HostEndpointUpdate,
    InSync,
    PolicyID,
    Rule,
    TierInfo,
)
from calico.felix.rules.names import POLICY_INBOUND_PREFIX, policy_chain_name
from tests.unit.felix.dataplane.conftest import ALLOW_ALL, IFACE_A, FakeHost, policy, workload

PI = policy_chain_name(POLICY_INBOUND_PREFIX, PolicyID("p"))


def test_a_policy_used_by_an_endpoint_is_programmed_in_filter(host: FakeHost) -> None:
    host.netlink.add_link(IFACE_A, "veth")
    dp = host.dataplane()
    a = workload("a", IFACE_A, "10.65.0.2", policies=(PolicyID("p"),))
    dp.on_messages([policy("p", Rule(action="allow", protocol="tcp")), ALLOW_ALL, a, InSync()])
    dp.tick()
    assert PI in host.chains()
    assert host.rules(PI)
    dp.on_messages([ActivePolicyRemove(PolicyID("p")), workload("a", IFACE_A, "10.65.0.2")])
    host.now += 1
    dp.tick()
    assert PI not in host.chains()
    assert dp.policy_mgr.policy_count == 0


def test_untracked_policies_also_render_into_raw(host: FakeHost) -> None:
    untracked = (TierInfo("default", ingress_policies=(PolicyID("p"),)),)
    hep = HostEndpointUpdate(
        HostEndpointID("h"), HostEndpoint(name="eth0", untracked_tiers=untracked)
    )
    dp = host.dataplane()
    dp.on_messages([policy("p", Rule(action="allow"), untracked=True), hep, InSync()])
    dp.tick()
    assert PI in host.chains("raw")
    plain_hep = HostEndpointUpdate(HostEndpointID("h"), HostEndpoint(name="eth0"))
    dp.on_messages([plain_hep, policy("p", Rule(action="allow"))])
    host.now += 1
    dp.tick()
    assert PI not in host.chains("raw")
