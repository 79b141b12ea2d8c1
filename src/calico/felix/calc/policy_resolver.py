"""Per local endpoint: the ordered tiers and policies that apply to it.

Calico's ``PolicyResolver`` + ``PolicySorter`` + the sequencer's
``tierInfoToProtoTierInfo``.  The active-rules calculator reports which
policies match which local endpoints; this node orders them (REFERENCE 4.2):

* tiers: existing tiers first, then by ``order`` ascending with unset last,
  ties by name.  The ``default`` tier exists even without a Tier resource
  (Calico creates it: order 1 000 000, action Deny).  A policy naming a tier
  that does not exist still applies, in a tier sorted after all others
  whose default action is Deny (fail closed);
* policies within a tier: ``order`` ascending with unset = +inf, ties by
  ``"<name>/<namespace>/<kind>"``;
* per direction, only policies whose ``types`` include it; a tier is listed
  only if it has at least one policy in either direction.

Host endpoints also get untracked (doNotTrack) and pre-DNAT tiers, whose
default action is always Pass so normal policy still runs after them, and
forward tiers (applyOnForward).  Untracked and pre-DNAT policies never
appear in the normal tiers.

Work is deferred: changes mark endpoints dirty and ``flush()`` recomputes only
those, each from its own matches (no scan over all policies).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from calico.felix.calc.model import (
    EndpointID,
    EndpointModel,
    PolicyModel,
    TierModel,
    WorkloadEndpointKey,
)
from calico.felix.messages import (
    HostEndpoint,
    HostEndpointID,
    HostEndpointRemove,
    HostEndpointUpdate,
    PolicyID,
    TierInfo,
    WorkloadEndpoint,
    WorkloadEndpointRemove,
    WorkloadEndpointUpdate,
)

EndpointMessage = (
    WorkloadEndpointUpdate | WorkloadEndpointRemove | HostEndpointUpdate | HostEndpointRemove
)

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TIER = TierModel(name="default", order=1_000_000.0, default_action="Deny")


@dataclass(frozen=True, slots=True)
class _PolicyMeta:
    """The parts of a policy that decide where it goes; rules don't matter here."""

    tier: str
    sort_key: tuple[float, str]
    ingress: bool
    egress: bool
    untracked: bool
    pre_dnat: bool
    apply_on_forward: bool


def _meta(policy: PolicyModel) -> _PolicyMeta:
    order = math.inf if policy.order is None else policy.order
    pid = policy.id
    return _PolicyMeta(
        tier=policy.tier,
        sort_key=(order, f"{pid.name}/{pid.namespace}/{pid.kind}"),
        ingress=policy.ingress,
        egress=policy.egress,
        untracked=policy.untracked,
        pre_dnat=policy.pre_dnat,
        apply_on_forward=policy.apply_on_forward,
    )


class PolicyResolver:
    def __init__(self, output: Callable[[EndpointMessage], None]):
        self._output = output
        self._tiers: dict[str, TierModel] = {}
        self._metas: dict[PolicyID, _PolicyMeta] = {}
        self._endpoints: dict[EndpointID, EndpointModel] = {}
        self._policies_of: dict[EndpointID, set[PolicyID]] = {}
        self._endpoints_of: dict[PolicyID, set[EndpointID]] = {}
        self._dirty: set[EndpointID] = set()

    # -- inputs -----------------------------------------------------------

    def on_tier(self, name: str, tier: TierModel | None) -> None:
        if self._tiers.get(name) == tier:
            return
        if tier is None:
            del self._tiers[name]
        else:
            self._tiers[name] = tier
        # Tier order affects every endpoint with a policy in it; local
        # endpoints are few, so mark them all.
        self._dirty.update(self._endpoints)

    def on_policy(self, policy_id: PolicyID, policy: PolicyModel | None) -> None:
        meta = _meta(policy) if policy is not None else None
        if self._metas.get(policy_id) == meta:
            return
        if meta is None:
            del self._metas[policy_id]
        else:
            self._metas[policy_id] = meta
        self._dirty.update(self._endpoints_of.get(policy_id, ()))

    def on_local_endpoint(self, endpoint_id: EndpointID, endpoint: EndpointModel | None) -> None:
        if endpoint is None:
            self._endpoints.pop(endpoint_id, None)
        else:
            self._endpoints[endpoint_id] = endpoint
        self._dirty.add(endpoint_id)

    def on_policy_match(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        self._policies_of.setdefault(endpoint_id, set()).add(policy_id)
        self._endpoints_of.setdefault(policy_id, set()).add(endpoint_id)
        self._dirty.add(endpoint_id)

    def on_policy_match_stopped(self, policy_id: PolicyID, endpoint_id: EndpointID) -> None:
        _discard(self._policies_of, endpoint_id, policy_id)
        _discard(self._endpoints_of, policy_id, endpoint_id)
        self._dirty.add(endpoint_id)

    # -- output -------------------------------------------------------------

    def flush(self) -> None:
        """Send an update (or removal) for every endpoint whose policies changed."""
        for endpoint_id in self._dirty:
            self._output(self._message(endpoint_id))
        self._dirty.clear()

    def _message(self, endpoint_id: EndpointID) -> EndpointMessage:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:
            if isinstance(endpoint_id, WorkloadEndpointKey):
                return WorkloadEndpointRemove(endpoint_id.to_id())
            return HostEndpointRemove(endpoint_id)
        tiers = self.sorted_tiers(endpoint_id)
        payload = endpoint.payload
        normal = _tier_infos(tiers, _is_normal)
        if isinstance(payload, WorkloadEndpoint):
            assert isinstance(endpoint_id, WorkloadEndpointKey)
            return WorkloadEndpointUpdate(
                endpoint_id.to_id(), dataclasses.replace(payload, tiers=normal)
            )
        assert isinstance(payload, HostEndpoint)
        assert isinstance(endpoint_id, HostEndpointID)
        host = dataclasses.replace(
            payload,
            tiers=normal,
            # Untracked and pre-DNAT tiers always end in Pass: the normal
            # filter-table policy still has to run afterwards.
            untracked_tiers=_tier_infos(tiers, _is_untracked, default_action="Pass"),
            pre_dnat_tiers=_tier_infos(tiers, _is_pre_dnat, default_action="Pass", egress=False),
            forward_tiers=_tier_infos(tiers, _is_forward),
        )
        return HostEndpointUpdate(endpoint_id, host)

    def sorted_tiers(self, endpoint_id: EndpointID) -> SortedTiers:
        """The endpoint's tiers in order, each with its matching policies in order."""
        by_tier: dict[str, _PolicyList] = {}
        for policy_id in self._policies_of.get(endpoint_id, ()):
            meta = self._metas.get(policy_id)
            if meta is not None:
                by_tier.setdefault(meta.tier, []).append((policy_id, meta))
        tiers = [self._tier(name) for name in by_tier]
        tiers.sort(key=self._tier_sort_key)
        return [(tier, sorted(by_tier[tier.name], key=lambda pm: pm[1].sort_key)) for tier in tiers]

    def _tier_sort_key(self, tier: TierModel) -> tuple[bool, bool, float, str]:
        # Missing tiers after existing ones; then unset order last; then order, name.
        missing = tier.name not in self._tiers and tier.name != DEFAULT_TIER.name
        return (missing, tier.order is None, tier.order or 0.0, tier.name)

    def _tier(self, name: str) -> TierModel:
        tier = self._tiers.get(name)
        if tier is not None:
            return tier
        if name == DEFAULT_TIER.name:
            return DEFAULT_TIER
        return TierModel(name=name, order=None, default_action="Deny")  # missing: sorts last


_PolicyList = list[tuple[PolicyID, _PolicyMeta]]
SortedTiers = list[tuple[TierModel, _PolicyList]]


def _tier_infos(
    tiers: SortedTiers,
    keep: Callable[[_PolicyMeta], bool],
    *,
    default_action: str | None = None,
    egress: bool = True,
) -> tuple[TierInfo, ...]:
    infos = []
    for tier, policies in tiers:
        kept = [(pid, meta) for pid, meta in policies if keep(meta)]
        ingress_ids = tuple(pid for pid, meta in kept if meta.ingress)
        egress_ids = tuple(pid for pid, meta in kept if meta.egress) if egress else ()
        if ingress_ids or egress_ids:
            action = default_action or tier.default_action
            infos.append(TierInfo(tier.name, ingress_ids, egress_ids, action))
    return tuple(infos)


def _is_normal(meta: _PolicyMeta) -> bool:
    return not meta.untracked and not meta.pre_dnat


def _is_untracked(meta: _PolicyMeta) -> bool:
    return meta.untracked


def _is_pre_dnat(meta: _PolicyMeta) -> bool:
    return meta.pre_dnat and not meta.untracked  # doNotTrack wins if both are set


def _is_forward(meta: _PolicyMeta) -> bool:
    return _is_normal(meta) and meta.apply_on_forward


def _discard(multidict: dict[K, set[V]], key: K, value: V) -> None:
    values = multidict.get(key)
    if values is not None:
        values.discard(value)
        if not values:
            del multidict[key]
