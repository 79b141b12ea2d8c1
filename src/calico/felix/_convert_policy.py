"""Policy, Tier and Profile conversion for ``calico.felix.convert``.

The policy-level selector scoping lives here; the rules themselves are
``calc.rules_convert``'s.
"""

from __future__ import annotations

from calico.datastore.keys import ResourceKey
from calico.errors import ValidationError
from calico.felix._convert_base import Spec, resource_id, spec_of
from calico.felix.calc.model import PolicyModel, ProfileModel, TierModel
from calico.felix.calc.rules_convert import (
    NAMESPACE_LABEL,
    SERVICE_ACCOUNT_LABEL,
    canonical,
    prefixed,
    rules,
)
from calico.felix.messages import PolicyID


def policy(rkey: ResourceKey, obj: Spec) -> PolicyModel:
    spec = spec_of(obj)
    types = [str(t).lower() for t in spec.get("types") or ()]
    order = spec.get("order")
    policy_id = resource_id(rkey)
    assert isinstance(policy_id, PolicyID)
    return PolicyModel(
        id=policy_id,
        tier=spec.get("tier") or "default",
        order=None if order is None else float(order),
        selector=_policy_selector(rkey, spec),
        inbound_rules=rules(spec.get("ingress"), rkey.namespace),
        outbound_rules=rules(spec.get("egress"), rkey.namespace),
        ingress=not types or "ingress" in types,  # empty types: both (Calico back-compat)
        egress=not types or "egress" in types,
        untracked=bool(spec.get("doNotTrack")),
        pre_dnat=bool(spec.get("preDNAT")),
        apply_on_forward=bool(spec.get("applyOnForward")),
        always_programmed="AssumeNeededOnEveryNode" in (spec.get("performanceHints") or ()),
    )


def _policy_selector(rkey: ResourceKey, spec: Spec) -> str:
    """As Calico's network(GlobalNetwork)PolicyProcessor: a NetworkPolicy is
    ANDed with its namespace; a GlobalNetworkPolicy's namespaceSelector and
    serviceAccountSelector are ANDed in with prefixed labels, ``all()`` in
    the result then standing for "has a namespace" / "has a service account"."""
    selector: str = spec.get("selector") or ""
    sa_selector: str = spec.get("serviceAccountSelector") or ""
    if rkey.kind == "NetworkPolicy":
        ns_term = f"{NAMESPACE_LABEL} == '{rkey.namespace}'"
        selector = f"({selector}) && {ns_term}" if selector.strip() else ns_term
        return canonical(_append_prefixed(selector, sa_selector, "pcsa.")) or "all()"
    ns_selector: str = spec.get("namespaceSelector") or ""
    if ns_selector.strip():
        selector = _append_prefixed(selector, ns_selector, "pcns.")
        selector = canonical(selector, all_means=f"has({NAMESPACE_LABEL})")
    if sa_selector.strip():
        selector = _append_prefixed(selector, sa_selector, "pcsa.")
        selector = canonical(selector, all_means=f"has({SERVICE_ACCOUNT_LABEL})")
    return canonical(selector) or "all()"


def _append_prefixed(selector: str, extra: str, prefix: str) -> str:
    """Calico's ``prefixAndAppendSelector``: AND in ``extra`` with its labels prefixed."""
    if not extra.strip():
        return selector
    extra = prefixed(extra, prefix)
    return f"({selector}) && {extra}" if selector.strip() else extra


def tier(rkey: ResourceKey, obj: Spec) -> TierModel:
    spec = spec_of(obj)
    order = spec.get("order")
    action = spec.get("defaultAction") or "Deny"
    if action not in ("Deny", "Pass"):
        raise ValidationError("must be Deny or Pass", field="spec.defaultAction", value=action)
    return TierModel(rkey.name, None if order is None else float(order), action)


def profile(rkey: ResourceKey, obj: Spec) -> ProfileModel:
    spec = spec_of(obj)
    return ProfileModel(
        name=rkey.name,
        inbound_rules=rules(spec.get("ingress"), ""),
        outbound_rules=rules(spec.get("egress"), ""),
        labels=dict(spec.get("labelsToApply") or {}),
    )
