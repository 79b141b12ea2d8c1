"""Event sequencer: coalescing, IP set deltas, and the dependency order of a flush."""

from __future__ import annotations

from calico.felix.calc.sequencer import EventSequencer
from calico.felix.messages import (
    ActivePolicyRemove,
    ActivePolicyUpdate,
    ActiveProfileRemove,
    ActiveProfileUpdate,
    ConfigUpdate,
    DataplaneMessage,
    HostMetadataUpdate,
    InSync,
    IPAMPool,
    IPAMPoolUpdate,
    IPSetDeltaUpdate,
    IPSetRemove,
    IPSetType,
    IPSetUpdate,
    Policy,
    PolicyID,
    Profile,
    ProfileID,
    RouteRemove,
    RouteUpdate,
    VXLANTunnelEndpointRemove,
    VXLANTunnelEndpointUpdate,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)

P1, P2 = PolicyID("p1"), PolicyID("p2")
EP = WorkloadEndpointID("k8s", "ns/a", "eth0")


def kinds(messages: list[DataplaneMessage]) -> list[str]:
    return [type(m).__name__ for m in messages]


def test_updates_coalesce_to_the_latest() -> None:
    seq = EventSequencer()
    seq.on_policy_active(P1, Policy(tier="a"))
    seq.on_policy_active(P1, Policy(tier="b"))
    assert seq.flush() == [ActivePolicyUpdate(P1, Policy(tier="b"))]
    seq.on_policy_active(P1, Policy(tier="b"))  # identical to what was sent
    assert seq.flush() == []
    seq.on_policy_active(P2, Policy())
    seq.on_policy_inactive(P2)  # never sent: nothing to remove
    seq.on_policy_inactive(P1)
    seq.on_policy_active(P1, Policy(tier="b"))  # removed then restored as it was
    assert seq.flush() == []
    seq.on_policy_inactive(P1)
    assert seq.flush() == [ActivePolicyRemove(P1)]


def test_ip_sets_full_then_deltas() -> None:
    seq = EventSequencer()
    seq.ipsets.on_ipset_added("s", IPSetType.NET)
    seq.ipsets.on_member_added("s", "10.0.0.1/32")
    seq.ipsets.on_member_added("s", "10.0.0.2/32")
    seq.ipsets.on_member_removed("s", "10.0.0.2/32")
    assert seq.flush() == [IPSetUpdate("s", frozenset({"10.0.0.1/32"}), IPSetType.NET)]
    seq.ipsets.on_member_added("s", "10.0.0.3/32")
    seq.ipsets.on_member_removed("s", "10.0.0.1/32")
    seq.ipsets.on_member_added("s", "10.0.0.4/32")
    seq.ipsets.on_member_removed("s", "10.0.0.4/32")  # cancels out
    assert seq.flush() == [
        IPSetDeltaUpdate("s", frozenset({"10.0.0.3/32"}), frozenset({"10.0.0.1/32"}))
    ]
    # Removed and re-added between flushes: one full update replaces it.
    seq.ipsets.on_ipset_removed("s")
    seq.ipsets.on_ipset_added("s", IPSetType.NET)
    seq.ipsets.on_member_added("s", "10.0.0.9/32")
    assert seq.flush() == [IPSetUpdate("s", frozenset({"10.0.0.9/32"}), IPSetType.NET)]
    seq.ipsets.on_member_added("s", "10.0.0.8/32")
    seq.ipsets.on_ipset_removed("s")  # pending deltas die with the set
    assert seq.flush() == [IPSetRemove("s")]
    seq.ipsets.on_ipset_added("t", IPSetType.NET)
    seq.ipsets.on_ipset_removed("t")
    assert seq.flush() == []


def test_flush_order() -> None:
    seq = EventSequencer()
    # Things to remove later.
    seq.ipsets.on_ipset_added("old-set", IPSetType.NET)
    seq.on_policy_active(P2, Policy())
    seq.on_profile_active(ProfileID("old"), Profile())
    seq.on_endpoint(WorkloadEndpointUpdate(EP, WorkloadEndpoint("cali1")))
    seq.on_route_update(RouteUpdate("10.0.1.0/26"))
    seq.on_vtep_update(
        VXLANTunnelEndpointUpdate("h2", "66:00:00:00:00:01", "10.0.1.1", "192.168.0.2")
    )
    seq.flush()
    # Everything at once, fed in "wrong" order.
    seq.on_in_sync()
    seq.on_pool_update(IPAMPoolUpdate("p", IPAMPool("10.0.0.0/16")))
    seq.on_host_update(HostMetadataUpdate("h3", "192.168.0.3/24"))
    seq.on_route_update(RouteUpdate("10.0.2.0/26"))
    seq.on_route_remove("10.0.1.0/26")
    seq.on_vtep_remove("h2")
    seq.on_vtep_update(
        VXLANTunnelEndpointUpdate("h3", "66:00:00:00:00:02", "10.0.2.1", "192.168.0.3")
    )
    seq.on_endpoint(WorkloadEndpointRemove(EP))
    seq.on_profile_inactive(ProfileID("old"))
    seq.on_policy_inactive(P2)
    seq.ipsets.on_ipset_removed("old-set")
    seq.on_endpoint(
        WorkloadEndpointUpdate(WorkloadEndpointID("k8s", "ns/b", "eth0"), WorkloadEndpoint("cali2"))
    )
    seq.on_profile_active(ProfileID("new"), Profile())
    seq.on_policy_active(P1, Policy())
    seq.ipsets.on_ipset_added("new-set", IPSetType.NET)
    seq.on_config({"LogSeverityScreen": '"Debug"'})
    assert kinds(seq.flush()) == [
        "ConfigUpdate",
        "IPSetUpdate",
        "ActivePolicyUpdate",
        "ActiveProfileUpdate",
        "WorkloadEndpointUpdate",
        "WorkloadEndpointRemove",
        "ActiveProfileRemove",
        "ActivePolicyRemove",
        "IPSetRemove",
        "RouteRemove",
        "VXLANTunnelEndpointRemove",
        "VXLANTunnelEndpointUpdate",
        "RouteUpdate",
        "HostMetadataUpdate",
        "IPAMPoolUpdate",
        "InSync",
    ]
    assert seq.flush() == []  # InSync only once


def test_messages_sorted_within_a_group() -> None:
    seq = EventSequencer()
    for name in ("c", "a", "b"):
        seq.on_profile_active(ProfileID(name), Profile())
    assert seq.flush() == [ActiveProfileUpdate(ProfileID(n), Profile()) for n in "abc"]
    for name in ("c", "a", "b"):
        seq.on_profile_inactive(ProfileID(name))
    seq.on_config({})
    assert seq.flush() == [ConfigUpdate({}), *(ActiveProfileRemove(ProfileID(n)) for n in "abc")]
    seq.on_in_sync()
    assert seq.flush() == [InSync()]
    seq.on_route_update(RouteUpdate("10.0.0.0/26"))
    seq.flush()
    seq.on_route_remove("10.0.0.0/26")
    seq.on_vtep_update(VXLANTunnelEndpointUpdate("h", "m", "a", "b"))
    seq.on_vtep_remove("h")
    assert seq.flush() == [RouteRemove("10.0.0.0/26")]
    assert VXLANTunnelEndpointRemove("h") not in seq.flush()
