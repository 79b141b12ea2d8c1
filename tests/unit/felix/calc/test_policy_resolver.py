"""Policy resolver: tier and policy order per endpoint (REFERENCE 4.2), per direction."""

from __future__ import annotations

from typing import Any

from calico.felix.calc.model import EndpointModel, PolicyModel, TierModel, WorkloadEndpointKey
from calico.felix.calc.policy_resolver import EndpointMessage, PolicyResolver
from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    HostEndpointUpdate,
    PolicyID,
    TierInfo,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)

EP = WorkloadEndpointKey("me", "k8s", "ns1/a", "eth0")
HEP = HostEndpointID("h1")


class Resolver:
    def __init__(self) -> None:
        self.out: list[EndpointMessage] = []
        self.pr = PolicyResolver(self.out.append)
        self.pr.on_local_endpoint(
            EP, EndpointModel(EP, "me", {}, (), (), (), WorkloadEndpoint("cali1"))
        )

    def policy(
        self,
        name: str,
        tier: str = "default",
        order: float | None = None,
        ns: str = "",
        **kw: Any,
    ) -> PolicyID:
        pid = PolicyID(name, ns, "np" if ns else "gnp")
        self.pr.on_policy(pid, PolicyModel(pid, tier, order, "all()", **kw))
        self.pr.on_policy_match(pid, EP)
        return pid

    def tiers(self) -> tuple[TierInfo, ...]:
        self.pr.flush()
        message = self.out[-1]
        assert isinstance(message, WorkloadEndpointUpdate)
        return message.endpoint.tiers


def test_policy_order_then_name_namespace_kind() -> None:
    r = Resolver()
    unset = r.policy("a-unset")
    ten = r.policy("z-ten", order=10)
    five_b = r.policy("b", order=5)
    five_a_ns2 = r.policy("a", order=5, ns="ns2")
    five_a_ns1 = r.policy("a", order=5, ns="ns1")
    assert r.tiers() == (
        TierInfo(
            "default",
            (five_a_ns1, five_a_ns2, five_b, ten, unset),
            (five_a_ns1, five_a_ns2, five_b, ten, unset),
            "Deny",
        ),
    )


def test_tier_order_default_tier_and_missing_tiers() -> None:
    r = Resolver()
    in_default = r.policy("p-default")
    in_missing = r.policy("p-missing", tier="ghost")
    in_unordered = r.policy("p-unordered", tier="unordered")
    in_first = r.policy("p-first", tier="first")
    in_late = r.policy("p-late", tier="late")
    r.pr.on_tier("first", TierModel("first", 10.0, "Pass"))
    r.pr.on_tier("late", TierModel("late", 2_000_000.0))
    r.pr.on_tier("unordered", TierModel("unordered", None))
    names = [t.name for t in r.tiers()]
    # Built-in default tier at 1e6; unset order after ordered ones; missing tiers last.
    assert names == ["first", "default", "late", "unordered", "ghost"]
    tiers = {t.name: t for t in r.tiers()}
    assert tiers["first"].default_action == "Pass"
    assert tiers["ghost"].default_action == "Deny"  # fail closed
    assert [t.ingress_policies for t in r.tiers()] == [
        (in_first,),
        (in_default,),
        (in_late,),
        (in_unordered,),
        (in_missing,),
    ]
    # An explicit default Tier resource overrides the built-in one.
    r.pr.on_tier("default", TierModel("default", 1.0, "Pass"))
    assert [t.name for t in r.tiers()][:2] == ["default", "first"]
    assert r.tiers()[0].default_action == "Pass"


def test_types_filter_per_direction_and_empty_tiers_vanish() -> None:
    r = Resolver()
    ingress_only = r.policy("in", ingress=True, egress=False)
    egress_only = r.policy("out", ingress=False, egress=True)
    assert r.tiers() == (TierInfo("default", (ingress_only,), (egress_only,), "Deny"),)
    r.pr.on_policy_match_stopped(ingress_only, EP)
    r.pr.on_policy_match_stopped(egress_only, EP)
    assert r.tiers() == ()


def test_reordering_marks_only_matching_endpoints_dirty() -> None:
    r = Resolver()
    a = r.policy("a", order=1)
    b = r.policy("b", order=2)
    r.pr.flush()
    r.out.clear()
    r.pr.flush()
    assert r.out == []
    r.pr.on_policy(a, PolicyModel(a, "default", 3.0, "all()"))
    assert [t.ingress_policies for t in r.tiers()] == [(b, a)]


def test_removed_endpoint() -> None:
    r = Resolver()
    r.pr.on_local_endpoint(EP, None)
    r.pr.flush()
    assert r.out == [WorkloadEndpointRemove(WorkloadEndpointID("k8s", "ns1/a", "eth0"))]


def test_host_endpoint_special_tiers() -> None:
    out: list[EndpointMessage] = []
    pr = PolicyResolver(out.append)
    pr.on_local_endpoint(HEP, EndpointModel(HEP, "me", {}, (), (), (), HostEndpoint("eth0")))
    specs: dict[str, dict[str, Any]] = {
        "normal": {},
        "untracked": {"untracked": True, "apply_on_forward": True},
        "prednat": {"pre_dnat": True, "apply_on_forward": True},
        "forward": {"apply_on_forward": True},
    }
    ids = {}
    for name, flags in specs.items():
        pid = ids[name] = PolicyID(name)
        pr.on_policy(pid, PolicyModel(pid, "default", None, "all()", **flags))
        pr.on_policy_match(pid, HEP)
    pr.flush()
    message = out[-1]
    assert isinstance(message, HostEndpointUpdate)
    host = message.endpoint
    both = (ids["forward"], ids["normal"])
    assert host.tiers == (TierInfo("default", both, both, "Deny"),)
    assert host.forward_tiers == (
        TierInfo("default", (ids["forward"],), (ids["forward"],), "Deny"),
    )
    assert host.untracked_tiers == (
        TierInfo("default", (ids["untracked"],), (ids["untracked"],), "Pass"),
    )
    assert host.pre_dnat_tiers == (TierInfo("default", (ids["prednat"],), (), "Pass"),)
