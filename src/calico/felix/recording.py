"""A dataplane that records the state the messages describe, and checks them.

Calico's ``MockDataplane``: calc-graph tests assert on the *resulting state*
(which IP sets with which members, which policies, each endpoint's tiers and
policy order, routes...), not on the calls that produced it, so they hold
whatever path the graph took.  ``state()`` returns a comparable snapshot.

It also enforces the dataplane contract on every message, raising
``InvariantViolation``:

* an IP set exists before any policy or profile references it, and is not
  removed while one still does; deltas only add absent members and remove
  present ones;
* a policy or profile is active before any endpoint references it, and is not
  removed while one still does;
* nothing is removed that does not exist.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from calico.felix.messages import (
    ActivePolicyRemove,
    ActivePolicyUpdate,
    ActiveProfileRemove,
    ActiveProfileUpdate,
    ConfigUpdate,
    DataplaneMessage,
    HostEndpoint,
    HostEndpointID,
    HostEndpointRemove,
    HostEndpointUpdate,
    HostMetadataRemove,
    HostMetadataUpdate,
    InSync,
    IPAMPool,
    IPAMPoolRemove,
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
    Rule,
    TierInfo,
    VXLANTunnelEndpointRemove,
    VXLANTunnelEndpointUpdate,
    WorkloadEndpoint,
    WorkloadEndpointID,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Owner = PolicyID | ProfileID
EndpointKey = WorkloadEndpointID | HostEndpointID


class InvariantViolation(AssertionError):
    """The message stream broke the dataplane contract."""


@dataclass(frozen=True)
class DataplaneState:
    ipsets: Mapping[str, tuple[IPSetType, frozenset[str]]] = field(default_factory=dict)
    policies: Mapping[PolicyID, Policy] = field(default_factory=dict)
    profiles: Mapping[ProfileID, Profile] = field(default_factory=dict)
    workload_endpoints: Mapping[WorkloadEndpointID, WorkloadEndpoint] = field(default_factory=dict)
    host_endpoints: Mapping[HostEndpointID, HostEndpoint] = field(default_factory=dict)
    routes: Mapping[str, RouteUpdate] = field(default_factory=dict)
    vteps: Mapping[str, VXLANTunnelEndpointUpdate] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    pools: Mapping[str, IPAMPool] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    in_sync: bool = False

    def ipset_members(self, set_id: str) -> frozenset[str]:
        return self.ipsets[set_id][1]

    def endpoint_tiers(self, endpoint_id: EndpointKey) -> tuple[TierInfo, ...]:
        if isinstance(endpoint_id, WorkloadEndpointID):
            return self.workload_endpoints[endpoint_id].tiers
        return self.host_endpoints[endpoint_id].tiers

    def policy_order(self, endpoint_id: EndpointKey, direction: str = "ingress") -> list[PolicyID]:
        """Every policy applying to the endpoint in one direction, in order."""
        attr = f"{direction}_policies"
        return [pid for tier in self.endpoint_tiers(endpoint_id) for pid in getattr(tier, attr)]


class RecordingDataplane:
    def __init__(self) -> None:
        self._ipsets: dict[str, tuple[IPSetType, set[str]]] = {}
        self._policies: dict[PolicyID, Policy] = {}
        self._profiles: dict[ProfileID, Profile] = {}
        self._weps: dict[WorkloadEndpointID, WorkloadEndpoint] = {}
        self._heps: dict[HostEndpointID, HostEndpoint] = {}
        self._routes: dict[str, RouteUpdate] = {}
        self._vteps: dict[str, VXLANTunnelEndpointUpdate] = {}
        self._hosts: dict[str, str] = {}
        self._pools: dict[str, IPAMPool] = {}
        self._config: Mapping[str, str] = {}
        self._in_sync = False
        # Who references what, to refuse removals of things still in use.
        self._sets_used_by: dict[Owner, frozenset[str]] = {}
        self._ipset_users: dict[str, int] = {}
        self._owners_used_by: dict[EndpointKey, frozenset[Owner]] = {}
        self._owner_users: dict[Owner, int] = {}
        self.messages_seen = 0

    def apply(self, messages: Iterable[DataplaneMessage]) -> None:
        for message in messages:
            self.on_message(message)

    def on_message(self, message: DataplaneMessage) -> None:
        self.messages_seen += 1
        match message:
            case IPSetUpdate() | IPSetDeltaUpdate() | IPSetRemove():
                self._on_ipset(message)
            case ActivePolicyUpdate(policy_id, policy):
                self._set_rules(policy_id, policy.inbound_rules + policy.outbound_rules)
                self._policies[policy_id] = policy
            case ActivePolicyRemove(policy_id):
                self._remove_rules(policy_id)
            case ActiveProfileUpdate(profile_id, profile):
                self._set_rules(profile_id, profile.inbound_rules + profile.outbound_rules)
                self._profiles[profile_id] = profile
            case ActiveProfileRemove(profile_id):
                self._remove_rules(profile_id)
            case WorkloadEndpointUpdate(endpoint_id, endpoint):
                self._set_endpoint_refs(endpoint_id, endpoint.tiers, endpoint.profile_ids)
                self._weps[endpoint_id] = endpoint
            case HostEndpointUpdate(endpoint_id, host):
                tiers = host.tiers + host.untracked_tiers + host.pre_dnat_tiers + host.forward_tiers
                self._set_endpoint_refs(endpoint_id, tiers, host.profile_ids)
                self._heps[endpoint_id] = host
            case WorkloadEndpointRemove(endpoint_id):
                _pop(self._weps, endpoint_id, "workload endpoint")
                self._set_endpoint_refs(endpoint_id, (), ())
            case HostEndpointRemove(endpoint_id):
                _pop(self._heps, endpoint_id, "host endpoint")
                self._set_endpoint_refs(endpoint_id, (), ())
            case _:
                self._on_cluster_message(message)

    def _on_cluster_message(self, message: DataplaneMessage) -> None:
        match message:
            case RouteUpdate(dst):
                self._routes[dst] = message
            case RouteRemove(dst):
                _pop(self._routes, dst, "route")
            case VXLANTunnelEndpointUpdate(node):
                self._vteps[node] = message
            case VXLANTunnelEndpointRemove(node):
                _pop(self._vteps, node, "VTEP")
            case HostMetadataUpdate(hostname, ipv4_addr):
                self._hosts[hostname] = ipv4_addr
            case HostMetadataRemove(hostname):
                _pop(self._hosts, hostname, "host metadata")
            case IPAMPoolUpdate(pool_id, pool):
                self._pools[pool_id] = pool
            case IPAMPoolRemove(pool_id):
                _pop(self._pools, pool_id, "IP pool")
            case ConfigUpdate(config):
                self._config = dict(config)
            case InSync():
                self._in_sync = True
            case _:
                raise InvariantViolation(f"unexpected message {message!r}")

    def state(self) -> DataplaneState:
        return DataplaneState(
            ipsets={k: (t, frozenset(m)) for k, (t, m) in self._ipsets.items()},
            policies=dict(self._policies),
            profiles=dict(self._profiles),
            workload_endpoints=dict(self._weps),
            host_endpoints=dict(self._heps),
            routes=dict(self._routes),
            vteps=dict(self._vteps),
            hosts=dict(self._hosts),
            pools=dict(self._pools),
            config=dict(self._config),
            in_sync=self._in_sync,
        )

    # -- IP sets ------------------------------------------------------------------------

    def _on_ipset(self, message: IPSetUpdate | IPSetDeltaUpdate | IPSetRemove) -> None:
        match message:
            case IPSetUpdate(set_id, initial, set_type):
                self._ipsets[set_id] = (set_type, set(initial))
            case IPSetDeltaUpdate(set_id, added, removed):
                if set_id not in self._ipsets:
                    raise InvariantViolation(f"delta for unknown IP set {set_id}")
                members = self._ipsets[set_id][1]
                if added & members or removed - members or added & removed:
                    raise InvariantViolation(
                        f"bad delta for {set_id}: +{sorted(added)} -{sorted(removed)} "
                        f"on {sorted(members)}"
                    )
                members.difference_update(removed)
                members.update(added)
            case IPSetRemove(set_id):
                if self._ipset_users.get(set_id):
                    users = self._ipset_users[set_id]
                    raise InvariantViolation(
                        f"IP set {set_id} removed while {users} rule sets use it"
                    )
                _pop(self._ipsets, set_id, "IP set")

    # -- references ---------------------------------------------------------------------

    def _set_rules(self, owner: Owner, rules: tuple[Rule, ...]) -> None:
        needed = frozenset(set_id for rule in rules for set_id in _ipset_ids(rule))
        missing = needed - self._ipsets.keys()
        if missing:
            raise InvariantViolation(
                f"{owner} references IP sets not yet created: {sorted(missing)}"
            )
        _move_refs(self._sets_used_by, self._ipset_users, owner, needed)

    def _remove_rules(self, owner: Owner) -> None:
        if self._owner_users.get(owner):
            users = self._owner_users[owner]
            raise InvariantViolation(f"{owner} removed while {users} endpoints use it")
        if isinstance(owner, PolicyID):
            _pop(self._policies, owner, "policy")
        else:
            _pop(self._profiles, owner, "profile")
        self._set_rules(owner, ())

    def _set_endpoint_refs(
        self, endpoint_id: EndpointKey, tiers: Iterable[TierInfo], profile_ids: Iterable[str]
    ) -> None:
        needed: set[Owner] = {
            pid for tier in tiers for pid in tier.ingress_policies + tier.egress_policies
        }
        needed.update(ProfileID(name) for name in profile_ids)
        missing = {o for o in needed if o not in self._policies and o not in self._profiles}
        if missing:
            raise InvariantViolation(
                f"{endpoint_id} references inactive {sorted(map(str, missing))}"
            )
        _move_refs(self._owners_used_by, self._owner_users, endpoint_id, frozenset(needed))


def _move_refs(
    uses: dict[K, frozenset[V]], counts: dict[V, int], user: K, new: frozenset[V]
) -> None:
    """Record that ``user`` now references exactly ``new``, keeping counts per referent."""
    old = uses.pop(user, frozenset())
    if new:
        uses[user] = new
    for referent in new - old:
        counts[referent] = counts.get(referent, 0) + 1
    for referent in old - new:
        counts[referent] -= 1
        if not counts[referent]:
            del counts[referent]


def _ipset_ids(rule: Rule) -> tuple[str, ...]:
    return (
        rule.src_ip_set_ids
        + rule.not_src_ip_set_ids
        + rule.dst_ip_set_ids
        + rule.not_dst_ip_set_ids
        + rule.src_named_port_ip_set_ids
        + rule.not_src_named_port_ip_set_ids
        + rule.dst_named_port_ip_set_ids
        + rule.not_dst_named_port_ip_set_ids
    )


def _pop(table: dict[K, V], key: K, what: str) -> V:
    if key not in table:
        raise InvariantViolation(f"removal of unknown {what} {key}")
    return table.pop(key)
