"""Tiers, policy order, Pass, end-of-tier drop and profiles, on a real kernel (sqlite).

REFERENCE 4.1/4.2: tiers in ``order`` (unset last, ties by name), policies in
``order`` within a tier (unset last, ties by name), the first terminal rule
wins; a tier that selects the endpoint and matches nothing drops unless its
defaultAction is Pass; profiles run after the last tier, in list order; a
profile that does not exist denies.

==========  =============  ===============================
workload    address        labels
==========  =============  ===============================
a           10.65.1.2      role=client
b           10.65.1.3      role=client, vip=true
o           10.65.1.4      role=other
srv         10.65.1.5      role=server
==========  =============  ===============================

Every workload has the profile ``allow-all``; the module also has the
profile ``deny-81`` (ingress: deny TCP 81, nothing else, so evaluation goes
on to the next profile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.felix.conftest import FelixLab
from tests.integration.felix.matrix import PolicyHost, ProbeKey, grid

pytestmark = pytest.mark.root

TCP80, TCP81, UDP80, ICMP = (80, "tcp"), (81, "tcp"), (80, "udp"), (0, "icmp")
SERVICES = [TCP80, TCP81, UDP80, ICMP]
ALL = set(SERVICES)
NONE: set[tuple[int, str]] = set()
SOURCES = ["a", "b", "o"]


@pytest.fixture(scope="module")
def module_host(felix_lab_factory: Callable[..., FelixLab]) -> PolicyHost:
    lab = felix_lab_factory(datastore="sqlite")
    ph = PolicyHost(lab.hosts["host1"])
    deny_81 = {"action": "Deny", "protocol": "TCP", "destination": {"ports": [81]}}
    ph.baseline(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Profile",
            "metadata": {"name": "deny-81"},
            "spec": {"ingress": [deny_81]},
        }
    )
    ph.add("a", "10.65.1.2", labels={"role": "client"})
    ph.add("b", "10.65.1.3", labels={"role": "client", "vip": "true"})
    ph.add("o", "10.65.1.4", labels={"role": "other"})
    ph.add("srv", "10.65.1.5", labels={"role": "server"})
    ph.add_canaries("10.65.1.6", "10.65.1.7")
    ph.host.start_felix()
    return ph


@pytest.fixture
def ph(module_host: PolicyHost) -> Iterator[PolicyHost]:
    yield module_host
    module_host.reset()


def tier(name: str, order: float | None, default_action: str = "Deny") -> dict[str, Any]:
    spec: dict[str, Any] = {"defaultAction": default_action}
    if order is not None:
        spec["order"] = order
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Tier",
        "metadata": {"name": name},
        "spec": spec,
    }


def gnp(
    name: str,
    *ingress: dict[str, Any],
    tier: str = "default",
    order: float | None = None,
    selector: str = "role == 'server'",
    types: tuple[str, ...] = ("Ingress",),
    egress: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "tier": tier,
        "selector": selector,
        "types": list(types),
        "ingress": list(ingress),
        "egress": list(egress),
    }
    if order is not None:
        spec["order"] = order
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def to_srv(allowed: dict[str, set[tuple[int, str]]]) -> dict[ProbeKey, bool]:
    """a, b, o -> srv over every service; ``allowed[src]`` are the open ones."""
    return grid(SOURCES, ["srv"], SERVICES, {(s, "srv"): allowed.get(s, NONE) for s in SOURCES})


# Workloads no policy selects keep their profile (allow-all); srv's egress is
# not governed by ingress-only policies.
CONTROLS: dict[ProbeKey, bool] = {
    ("a", "o", 81, "tcp"): True,
    ("o", "b", 80, "udp"): True,
    ("srv", "a", 80, "tcp"): True,
}

VIP_TCP80 = {
    "action": "Allow",
    "protocol": "TCP",
    "source": {"selector": "vip == 'true'"},
    "destination": {"ports": [80]},
}


def test_end_of_tier_drop(ph: PolicyHost) -> None:
    # The tier selects srv and only vips' TCP 80 matches: the rest is dropped at
    # the end of the tier, although srv's profile would allow it.
    ph.apply(tier("security", 100), gnp("security.vip-only", VIP_TCP80, tier="security"))
    ph.expect({**to_srv({"b": {TCP80}}), **CONTROLS}, title="security tier, Deny")


def test_tier_default_action_pass(ph: PolicyHost) -> None:
    ph.apply(
        tier("security", 100, "Pass"),
        gnp("security.vip-only", VIP_TCP80, tier="security"),
        gnp("srv-udp", {"action": "Allow", "protocol": "UDP"}),
    )
    # Unmatched traffic passes to the default tier, which only allows UDP.
    ph.expect(
        {**to_srv({"a": {UDP80}, "b": {TCP80, UDP80}, "o": {UDP80}}), **CONTROLS},
        title="security tier, Pass; default tier UDP",
    )
    # With no policy left after the Pass, the profile (allow-all) decides.
    ph.delete("GlobalNetworkPolicy", "srv-udp")
    ph.expect(to_srv({"a": ALL, "b": ALL, "o": ALL}), title="security tier, Pass; no default")


def test_pass_rule_skips_rest_of_tier(ph: PolicyHost) -> None:
    ph.apply(
        tier("security", 100),
        gnp(
            "security.pass-clients",
            {"action": "Pass", "source": {"selector": "role == 'client'"}},
            tier="security",
            order=1,
        ),
        gnp("security.deny-all", {"action": "Deny"}, tier="security", order=2),
        gnp("web", {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}),
    )
    # Clients skip security.deny-all and meet the default tier (TCP 80 only,
    # then its own end-of-tier drop); o is denied in the security tier.
    ph.expect({**to_srv({"a": {TCP80}, "b": {TCP80}}), **CONTROLS}, title="pass clients")


def test_tier_order(ph: PolicyHost) -> None:
    deny_vip = {"action": "Deny", "source": {"selector": "vip == 'true'"}}
    # Orders, not names, sort tiers, and as numbers: zz-first (9) before
    # aa-second (20). zz-first passes what it does not deny.
    ph.apply(
        tier("zz-first", 9, "Pass"),
        tier("aa-second", 20),
        gnp("zz-first.deny-vip", deny_vip, tier="zz-first"),
        gnp("aa-second.allow", {"action": "Allow"}, tier="aa-second"),
    )
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="zz-first 9, aa-second 20")
    # Equal orders: the name breaks the tie, aa-second first.
    ph.apply(tier("zz-first", 20, "Pass"))
    ph.expect(to_srv({"a": ALL, "b": ALL, "o": ALL}), title="both 20")
    # An unset order sorts last: zz-first (20) before aa-second (unset).
    ph.apply(tier("aa-second", None))
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="zz-first 20, aa-second unset")


def test_tier_after_default_tier(ph: PolicyHost) -> None:
    # The default tier's order is 1 000 000: a tier at 2 000 000 comes after it.
    ph.apply(
        tier("late", 2_000_000),
        gnp("late.deny-all", {"action": "Deny"}, tier="late"),
        gnp("web", {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}),
    )
    ph.expect(
        {**to_srv({"a": {TCP80}, "b": {TCP80}, "o": {TCP80}}), **CONTROLS},
        title="default tier before 'late'",
    )
    # ... and one at 1000 before it.
    ph.apply(tier("late", 1000))
    ph.expect({**to_srv({}), **CONTROLS}, title="'late' moved before the default tier")


def test_tier_without_policy_for_direction_is_skipped(ph: PolicyHost) -> None:
    # The security tier only governs srv's egress; srv's ingress skips the tier
    # (no end-of-tier drop) and falls to the profile.
    ph.apply(
        tier("security", 100),
        gnp(
            "security.srv-egress",
            tier="security",
            types=("Egress",),
            egress=({"action": "Allow", "protocol": "UDP"},),
        ),
    )
    ph.expect(
        {
            **to_srv({"a": ALL, "b": ALL, "o": ALL}),
            ("srv", "a", 80, "udp"): True,
            ("srv", "a", 80, "tcp"): False,
            ("srv", "o", 0, "icmp"): False,
        },
        title="egress-only tier",
    )


def test_policy_order(ph: PolicyHost) -> None:
    deny_vip = {"action": "Deny", "source": {"selector": "vip == 'true'"}}
    # Numeric order: 9.5 before 10 (as strings they would sort the other way).
    ph.apply(gnp("p-deny", deny_vip, order=9.5), gnp("p-allow", {"action": "Allow"}, order=10))
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="deny 9.5, allow 10")
    ph.apply(gnp("p-deny", deny_vip, order=30))
    ph.expect(to_srv({"a": ALL, "b": ALL, "o": ALL}), title="allow 10, deny 30")
    # 0 is an order like any other (not "unset"): first.
    ph.apply(gnp("p-deny", deny_vip, order=0), gnp("p-allow", {"action": "Allow"}, order=1))
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="deny 0, allow 1")
    # Unset order is +infinity: after any number.
    ph.apply(gnp("p-allow", {"action": "Allow"}), gnp("p-deny", deny_vip, order=1000))
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="deny 1000, allow unset")


def test_policy_name_breaks_order_tie(ph: PolicyHost) -> None:
    deny_vip = {"action": "Deny", "source": {"selector": "vip == 'true'"}}
    ph.apply(gnp("aaa-deny", deny_vip, order=50), gnp("bbb-allow", {"action": "Allow"}, order=50))
    ph.expect(to_srv({"a": ALL, "o": ALL}), title="aaa-deny, bbb-allow at 50")
    ph.delete("GlobalNetworkPolicy", "aaa-deny")
    ph.delete("GlobalNetworkPolicy", "bbb-allow")
    ph.apply(gnp("aaa-allow", {"action": "Allow"}, order=50), gnp("bbb-deny", deny_vip, order=50))
    ph.expect(to_srv({"a": ALL, "b": ALL, "o": ALL}), title="aaa-allow, bbb-deny at 50")


def test_profiles_after_tiers(ph: PolicyHost) -> None:
    # No policy: profiles in order. deny-81 denies TCP 81, matches nothing else,
    # so allow-all decides the rest.
    ph.apply(ph.wep("srv", labels={"role": "server"}, profiles=("deny-81", "allow-all")))
    ph.expect(
        to_srv({"a": {TCP80, UDP80, ICMP}, "b": {TCP80, UDP80, ICMP}, "o": {TCP80, UDP80, ICMP}}),
        title="profiles deny-81, allow-all",
    )
    # The other order: allow-all accepts everything first.
    ph.apply(ph.wep("srv", labels={"role": "server"}, profiles=("allow-all", "deny-81")))
    ph.expect(to_srv({"a": ALL, "b": ALL, "o": ALL}), title="profiles allow-all, deny-81")
    # A policy runs before the profiles: it allows TCP 81 (which deny-81 would
    # deny) and drops everything else at the end of the tier.
    ph.apply(
        ph.wep("srv", labels={"role": "server"}, profiles=("deny-81", "allow-all")),
        gnp("srv-81", {"action": "Allow", "protocol": "TCP", "destination": {"ports": [81]}}),
    )
    ph.expect(to_srv({"a": {TCP81}, "b": {TCP81}, "o": {TCP81}}), title="policy before profiles")


def test_no_profile_and_missing_profile_deny(ph: PolicyHost) -> None:
    ph.apply(ph.wep("srv", labels={"role": "server"}, profiles=()))
    expect_closed = {
        **to_srv({}),
        ("srv", "a", 80, "tcp"): False,
        ("srv", "o", 0, "icmp"): False,
        ("a", "o", 80, "tcp"): True,
    }
    ph.expect(expect_closed, title="no profiles")
    # A profile that does not exist denies (felix's dummy drop rules), even
    # with allow-all after it.
    ph.apply(ph.wep("srv", labels={"role": "server"}, profiles=("no-such-profile", "allow-all")))
    ph.expect(expect_closed, title="missing profile first")
    # Once the profile exists (allowing everything) traffic flows again.
    ph.apply(
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Profile",
            "metadata": {"name": "no-such-profile"},
            "spec": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]},
        }
    )
    ph.expect(
        {**to_srv({"a": ALL, "b": ALL, "o": ALL}), ("srv", "a", 80, "tcp"): True},
        title="profile created",
    )


def test_ingress_and_egress_types(ph: PolicyHost) -> None:
    ph.apply(gnp("srv-closed-in", selector="role == 'server'", types=("Ingress",)))
    ph.expect(
        {**to_srv({}), ("srv", "a", 80, "tcp"): True, ("srv", "o", 0, "icmp"): True},
        title="ingress-only policy without rules",
    )
    ph.delete("GlobalNetworkPolicy", "srv-closed-in")
    ph.apply(gnp("srv-closed-out", selector="role == 'server'", types=("Egress",)))
    ph.expect(
        {
            **to_srv({"a": ALL, "b": ALL, "o": ALL}),
            ("srv", "a", 80, "tcp"): False,
            ("srv", "o", 0, "icmp"): False,
        },
        title="egress-only policy without rules",
    )
    ph.delete("GlobalNetworkPolicy", "srv-closed-out")
    # Both types, ingress rules only: egress has a policy and nothing matches.
    ph.apply(gnp("srv-both", {"action": "Allow"}, types=("Ingress", "Egress")))
    ph.expect(
        {
            **to_srv({"a": ALL, "b": ALL, "o": ALL}),
            ("srv", "a", 80, "tcp"): False,
            ("srv", "o", 0, "icmp"): False,
        },
        title="both types, ingress rules only",
    )
