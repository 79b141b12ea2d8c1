"""Which policies and profiles this host needs: the "active" rules.

Calico's ``ActiveRulesCalculator``.  It sees every policy and profile but only
the *local* endpoints:

* a policy is active while its selector matches at least one local endpoint
  (or it carries the ``AssumeNeededOnEveryNode`` hint);
* a profile is active while a local endpoint lists it; if it does not exist
  (yet, or any more), a deny-all stand-in is activated instead, so that an
  endpoint is never left open by a missing profile (fail closed).

Activations go to the rule scanner; every (policy, local endpoint) match is
also reported to the policy resolver, which orders policies per endpoint.
"""

from __future__ import annotations

from typing import Protocol

from calico.felix.calc.labelindex import LabelIndex
from calico.felix.calc.model import EndpointID, EndpointModel, ModelRule, PolicyModel, ProfileModel
from calico.felix.messages import PolicyID
from calico.selector import parse


class RuleScannerCallbacks(Protocol):
    def on_policy_active(self, policy_id: PolicyID, policy: PolicyModel) -> None: ...

    def on_policy_inactive(self, policy_id: PolicyID) -> None: ...

    def on_profile_active(self, name: str, profile: ProfileModel) -> None: ...

    def on_profile_inactive(self, name: str) -> None: ...


class PolicyMatchCallbacks(Protocol):
    def on_policy_match(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None: ...

    def on_policy_match_stopped(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None: ...


def deny_all_profile(name: str) -> ProfileModel:
    """The stand-in for a profile a local endpoint names but that does not exist."""
    deny = (ModelRule(action="deny"),)
    return ProfileModel(name=name, inbound_rules=deny, outbound_rules=deny)


class ActiveRulesCalculator:
    def __init__(self, scanner: RuleScannerCallbacks, matches: PolicyMatchCallbacks):
        self._scanner = scanner
        self._matches = matches
        self._policies: dict[PolicyID, PolicyModel] = {}
        self._profiles: dict[str, ProfileModel] = {}
        self._index: LabelIndex[EndpointID, PolicyID] = LabelIndex(
            self._match_started, self._match_stopped
        )
        self._endpoint_profiles: dict[EndpointID, tuple[str, ...]] = {}
        self._profile_users: dict[str, set[EndpointID]] = {}
        # What the scanner has been told is active, to send only real changes.
        self._sent_policies: dict[PolicyID, PolicyModel] = {}
        self._sent_profiles: dict[str, ProfileModel] = {}

    # -- inputs -----------------------------------------------------------

    def on_policy(self, policy_id: PolicyID, policy: PolicyModel | None) -> None:
        if self._policies.get(policy_id) == policy:
            return
        if policy is None:
            del self._policies[policy_id]
            self._index.delete_selector(policy_id)
        else:
            self._policies[policy_id] = policy
            self._index.update_selector(policy_id, parse(policy.selector))
        self._sync_policy(policy_id)

    def on_profile(self, name: str, profile: ProfileModel | None) -> None:
        if profile is None:
            self._profiles.pop(name, None)
            self._index.delete_parent(name)
        else:
            self._profiles[name] = profile
            self._index.update_parent(name, profile.labels)
        self._sync_profile(name)

    def on_local_endpoint(self, endpoint_id: EndpointID, endpoint: EndpointModel | None) -> None:
        """A local endpoint was added, changed or removed (remote ones never come here)."""
        old_profiles = self._endpoint_profiles.pop(endpoint_id, ())
        new_profiles = endpoint.profile_ids if endpoint is not None else ()
        if new_profiles:
            self._endpoint_profiles[endpoint_id] = new_profiles
        for name in set(new_profiles) - set(old_profiles):
            self._profile_users.setdefault(name, set()).add(endpoint_id)
            self._sync_profile(name)
        # Match changes go before dropping old profiles so that, downstream,
        # nothing still referenced is ever deactivated.
        if endpoint is None:
            self._index.delete_item(endpoint_id)
        else:
            self._index.update_item(endpoint_id, endpoint.labels, endpoint.profile_ids)
        for name in set(old_profiles) - set(new_profiles):
            users = self._profile_users[name]
            users.discard(endpoint_id)
            if not users:
                del self._profile_users[name]
            self._sync_profile(name)

    def rebalance(self) -> None:
        """Re-tune the selector index to the endpoints now known (speed only)."""
        self._index.rebalance()

    # -- queries (tests, debugging) ----------------------------------------

    def active_policies(self) -> frozenset[PolicyID]:
        return frozenset(self._sent_policies)

    def active_profiles(self) -> frozenset[str]:
        return frozenset(self._sent_profiles)

    # -- internals ----------------------------------------------------------

    def _match_started(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        self._sync_policy(policy_id)
        self._matches.on_policy_match(policy_id, endpoint_id)

    def _match_stopped(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        self._matches.on_policy_match_stopped(policy_id, endpoint_id)
        self._sync_policy(policy_id)

    def _sync_policy(self, policy_id: PolicyID) -> None:
        policy = self._policies.get(policy_id)
        active = policy is not None and (
            policy.always_programmed or bool(self._index.items_matching(policy_id))
        )
        sent = self._sent_policies.get(policy_id)
        if active and policy is not None:
            if sent is not policy and sent != policy:
                self._sent_policies[policy_id] = policy
                self._scanner.on_policy_active(policy_id, policy)
        elif sent is not None:
            del self._sent_policies[policy_id]
            self._scanner.on_policy_inactive(policy_id)

    def _sync_profile(self, name: str) -> None:
        wanted: ProfileModel | None = None
        if name in self._profile_users:
            wanted = self._profiles.get(name) or deny_all_profile(name)
        sent = self._sent_profiles.get(name)
        if wanted is not None:
            if sent != wanted:
                self._sent_profiles[name] = wanted
                self._scanner.on_profile_active(name, wanted)
        elif sent is not None:
            del self._sent_profiles[name]
            self._scanner.on_profile_inactive(name)
