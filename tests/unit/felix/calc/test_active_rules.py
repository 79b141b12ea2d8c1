"""Active rules: policies matching local endpoints, referenced profiles, deny-all stand-ins."""

from __future__ import annotations

from typing import Any

from calico.felix.calc.active_rules import ActiveRulesCalculator, deny_all_profile
from calico.felix.calc.model import (
    EndpointID,
    EndpointModel,
    ModelRule,
    PolicyModel,
    ProfileModel,
    WorkloadEndpointKey,
)
from calico.felix.messages import PolicyID, WorkloadEndpoint


class Downstream:
    def __init__(self) -> None:
        self.policies: dict[PolicyID, PolicyModel] = {}
        self.profiles: dict[str, ProfileModel] = {}
        self.matches: set[tuple[PolicyID, EndpointID]] = set()
        self.activations = 0

    def on_policy_active(self, policy_id: PolicyID, policy: PolicyModel) -> None:
        self.activations += 1
        self.policies[policy_id] = policy

    def on_policy_inactive(self, policy_id: PolicyID) -> None:
        del self.policies[policy_id]

    def on_profile_active(self, name: str, profile: ProfileModel) -> None:
        self.profiles[name] = profile

    def on_profile_inactive(self, name: str) -> None:
        del self.profiles[name]

    def on_policy_match(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        self.matches.add((policy_id, endpoint_id))

    def on_policy_match_stopped(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        self.matches.remove((policy_id, endpoint_id))


def make() -> tuple[ActiveRulesCalculator, Downstream]:
    down = Downstream()
    return ActiveRulesCalculator(down, down), down


def ep(name: str, labels: dict[str, str], profiles: tuple[str, ...] = ()) -> EndpointModel:
    return EndpointModel(
        WorkloadEndpointKey("me", "k8s", f"ns/{name}", "eth0"),
        "me",
        labels,
        profiles,
        (),
        (),
        WorkloadEndpoint(name),
    )


def pol(name: str, selector: str, **kw: Any) -> PolicyModel:
    return PolicyModel(PolicyID(name), "default", None, selector, **kw)


def test_policy_is_active_while_it_matches_a_local_endpoint() -> None:
    arc, down = make()
    arc.on_policy(PolicyID("p"), pol("p", "app == 'web'"))
    assert down.policies == {}
    web = ep("a", {"app": "web"})
    arc.on_local_endpoint(web.id, web)
    assert set(down.policies) == {PolicyID("p")}
    assert down.matches == {(PolicyID("p"), web.id)}
    arc.on_local_endpoint(web.id, ep("a", {"app": "db"}))
    assert down.policies == {}
    assert down.matches == set()


def test_rule_changes_are_resent_only_when_real() -> None:
    arc, down = make()
    web = ep("a", {"app": "web"})
    arc.on_local_endpoint(web.id, web)
    arc.on_policy(PolicyID("p"), pol("p", "all()"))
    arc.on_policy(PolicyID("p"), pol("p", "all()"))  # identical: nothing
    assert down.activations == 1
    arc.on_policy(PolicyID("p"), pol("p", "all()", inbound_rules=(ModelRule("deny"),)))
    assert down.activations == 2
    assert down.policies[PolicyID("p")].inbound_rules == (ModelRule("deny"),)
    arc.on_policy(PolicyID("p"), None)
    assert down.policies == {}
    assert down.matches == set()


def test_always_programmed_policy_is_active_without_matches() -> None:
    arc, down = make()
    arc.on_policy(PolicyID("p"), pol("p", "nobody == 'x'", always_programmed=True))
    assert set(down.policies) == {PolicyID("p")}
    assert down.matches == set()
    arc.on_policy(PolicyID("p"), None)
    assert down.policies == {}


def test_profiles_active_while_referenced_and_missing_ones_deny() -> None:
    arc, down = make()
    a = ep("a", {}, ("kns.ns1", "missing"))
    arc.on_profile("kns.ns1", ProfileModel("kns.ns1", (ModelRule("allow"),)))
    arc.on_profile("unused", ProfileModel("unused"))
    arc.on_local_endpoint(a.id, a)
    assert down.profiles == {
        "kns.ns1": ProfileModel("kns.ns1", (ModelRule("allow"),)),
        "missing": deny_all_profile("missing"),
    }
    arc.on_profile("missing", ProfileModel("missing", (ModelRule("allow"),)))  # shows up late
    assert down.profiles["missing"] == ProfileModel("missing", (ModelRule("allow"),))
    arc.on_profile("kns.ns1", None)  # deleted while in use: back to deny-all
    assert down.profiles["kns.ns1"] == deny_all_profile("kns.ns1")
    arc.on_local_endpoint(a.id, None)
    assert down.profiles == {}


def test_profile_labels_are_inherited_for_policy_selection() -> None:
    arc, down = make()
    arc.on_policy(PolicyID("p"), pol("p", "pcns.env == 'prod'"))
    a = ep("a", {}, ("kns.ns1",))
    arc.on_local_endpoint(a.id, a)
    assert down.policies == {}
    arc.on_profile("kns.ns1", ProfileModel("kns.ns1", labels={"pcns.env": "prod"}))
    assert set(down.policies) == {PolicyID("p")}
    assert arc.active_policies() == {PolicyID("p")}
    assert arc.active_profiles() == {"kns.ns1"}
