"""The recording dataplane: resulting state, and the contract it enforces."""

from __future__ import annotations

import pytest

from calico.felix.messages import (
    ActivePolicyRemove,
    ActivePolicyUpdate,
    ActiveProfileRemove,
    ActiveProfileUpdate,
    DataplaneMessage,
    IPSetDeltaUpdate,
    IPSetRemove,
    IPSetType,
    IPSetUpdate,
    Policy,
    PolicyID,
    Profile,
    ProfileID,
    RouteRemove,
    Rule,
    TierInfo,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)
from calico.felix.recording import InvariantViolation, RecordingDataplane

P = PolicyID("p")
EP = WorkloadEndpointID("k8s", "ns/a", "eth0")
USES_S = Policy(inbound_rules=(Rule("allow", src_ip_set_ids=("s",)),))
ENDPOINT = WorkloadEndpoint("cali1", profile_ids=("prof",), tiers=(TierInfo("default", (P,), ()),))


def good_sequence() -> list[DataplaneMessage]:
    return [
        IPSetUpdate("s", frozenset({"10.0.0.1/32"}), IPSetType.NET),
        ActivePolicyUpdate(P, USES_S),
        ActiveProfileUpdate(ProfileID("prof"), Profile()),
        WorkloadEndpointUpdate(EP, ENDPOINT),
        IPSetDeltaUpdate("s", frozenset({"10.0.0.2/32"}), frozenset({"10.0.0.1/32"})),
    ]


def test_state_after_a_valid_sequence() -> None:
    dp = RecordingDataplane()
    dp.apply(good_sequence())
    state = dp.state()
    assert state.ipset_members("s") == {"10.0.0.2/32"}
    assert state.policy_order(EP) == [P]
    assert state.policy_order(EP, "egress") == []
    dp.apply(
        [
            WorkloadEndpointRemove(EP),
            ActiveProfileRemove(ProfileID("prof")),
            ActivePolicyRemove(P),
            IPSetRemove("s"),
        ]
    )
    assert dp.state() == RecordingDataplane().state()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([ActivePolicyUpdate(P, USES_S)], "not yet created"),
        ([WorkloadEndpointUpdate(EP, ENDPOINT)], "inactive"),
        ([*good_sequence(), IPSetRemove("s")], "removed while"),
        ([*good_sequence(), ActivePolicyRemove(P)], "removed while"),
        ([*good_sequence(), ActiveProfileRemove(ProfileID("prof"))], "removed while"),
        (
            [*good_sequence(), IPSetDeltaUpdate("s", frozenset({"10.0.0.2/32"}), frozenset())],
            "bad delta",
        ),
        ([IPSetDeltaUpdate("t", frozenset(), frozenset())], "unknown IP set"),
        ([RouteRemove("10.0.0.0/26")], "unknown route"),
        ([WorkloadEndpointRemove(EP)], "unknown workload endpoint"),
    ],
)
def test_contract_violations_are_caught(bad: list[DataplaneMessage], message: str) -> None:
    dp = RecordingDataplane()
    with pytest.raises(InvariantViolation, match=message):
        dp.apply(bad)
