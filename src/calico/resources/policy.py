"""NetworkPolicy (namespaced) and GlobalNetworkPolicy.

Sources: api ``networkpolicy.go`` / ``globalnetworkpolicy.go`` (fields, CEL
rules), api ``pkg/defaults/networkpolicy.go`` (``types`` and tier label
defaulting) and libcalico-go ``validator.go`` (names, Types, services).

Policy names: Calico (since #11232) no longer requires policies in a
non-default tier to be named ``<tier>.<name>``; a name is a DNS label, or
two labels joined by one dot (which keeps old ``tier.name`` names valid).
NetworkPolicy names may also be converted Kubernetes or OpenStack names,
``knp.default.<name>`` / ``ossg.default.<name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from calico.resources import _names
from calico.resources._base import CalicoModel, GoFloat, fail, join_path
from calico.resources._resource import Resource
from calico.resources._rules import Rule
from calico.resources._types import Name, Selector

PolicyType = Literal["Ingress", "Egress"]
PerformanceHint = Literal["AssumeNeededOnEveryNode"]

DEFAULT_TIER = "default"
# Label Calico adds to every policy, naming its tier (api constants.go).
TIER_LABEL = "projectcalico.org/tier"
RULES_MAX = 1024


def policy_types_default(ingress: list[Rule], egress: list[Rule]) -> list[PolicyType]:
    """Calico's default for an unset ``types`` (REFERENCE 2.3).

    ``[Ingress]`` unless there are egress rules; ``[Egress]`` if there are
    only egress rules; both if there are both.
    """
    if not egress:
        return ["Ingress"]
    if not ingress:
        return ["Egress"]
    return ["Ingress", "Egress"]


class _PolicySpec(CalicoModel):
    """Fields and rules common to both policy kinds."""

    tier: Name = ""
    order: GoFloat | None = None
    ingress: Annotated[list[Rule], Field(max_length=RULES_MAX)] = Field(default_factory=list)
    egress: Annotated[list[Rule], Field(max_length=RULES_MAX)] = Field(default_factory=list)
    selector: Selector = ""
    types: Annotated[list[PolicyType], Field(max_length=2)] = Field(default_factory=list)
    service_account_selector: Selector = ""
    performance_hints: list[PerformanceHint] = Field(default_factory=list)

    _global: ClassVar[bool] = False

    @model_validator(mode="after")
    def _defaults_and_rules(self) -> Self:
        self.tier = self.tier or DEFAULT_TIER
        if not self.types:
            self.types = policy_types_default(self.ingress, self.egress)
        _no_repeats(self.types, "types")
        _no_repeats(self.performance_hints, "performanceHints")
        for field in ("selector", "service_account_selector"):
            if "global(" in getattr(self, field):
                fail(
                    "global() can only be used in an EntityRule namespaceSelector",
                    at="selector" if field == "selector" else "serviceAccountSelector",
                    value=getattr(self, field),
                )
        self._check_rule_directions()
        return self

    def _check_rule_directions(self) -> None:
        for index, rule in enumerate(self.egress):
            if rule.source.services is not None:
                fail(
                    "services are not allowed in an egress rule source",
                    at=join_path("egress", index, "source", "services"),
                )
            if rule.http is not None:
                fail(
                    "HTTP match is not allowed in egress rules",
                    at=join_path("egress", index, "http"),
                )
            services = rule.destination.services
            if self._global and services is not None and not services.namespace:
                fail(
                    "services in a global policy must specify a namespace",
                    at=join_path("egress", index, "destination", "services", "namespace"),
                )
        for index, rule in enumerate(self.ingress):
            if rule.destination.services is not None:
                fail(
                    "services are not allowed in an ingress rule destination",
                    at=join_path("ingress", index, "destination", "services"),
                )
            services = rule.source.services
            if self._global and services is not None and not services.namespace:
                fail(
                    "services in a global policy must specify a namespace",
                    at=join_path("ingress", index, "source", "services", "namespace"),
                )


class NetworkPolicySpec(_PolicySpec):
    """A namespaced policy; its selector only reaches its own namespace."""


class GlobalNetworkPolicySpec(_PolicySpec):
    """A cluster-wide policy, which may also apply to host endpoints."""

    do_not_track: bool = False
    pre_dnat: bool = Field(False, alias="preDNAT")
    apply_on_forward: bool = False
    namespace_selector: Selector = ""

    _global: ClassVar[bool] = True

    @model_validator(mode="after")
    def _host_policy_rules(self) -> Self:
        if "global(" in self.namespace_selector:
            fail(
                "global() can only be used in an EntityRule namespaceSelector",
                at="namespaceSelector",
                value=self.namespace_selector,
            )
        if self.do_not_track and self.pre_dnat:
            fail("preDNAT and doNotTrack cannot both be true", at="preDNAT")
        if self.pre_dnat and self.egress:
            fail("preDNAT policy cannot have any egress rules", at="egress")
        if self.pre_dnat and "Egress" in self.types:
            fail("preDNAT policy cannot have 'Egress' type", at="types")
        if (self.do_not_track or self.pre_dnat) and not self.apply_on_forward:
            fail(
                "applyOnForward must be true if either preDNAT or doNotTrack is true",
                at="applyOnForward",
            )
        return self


class _Policy(Resource):
    spec: _PolicySpec

    def _complete(self) -> None:
        self.metadata.labels[TIER_LABEL] = self.spec.tier


class NetworkPolicy(_Policy):
    kind: Literal["NetworkPolicy"] = "NetworkPolicy"
    spec: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)

    def _check_name(self) -> None:
        self._require_name(
            _policy_name_problem(self.name, _names.NETWORK_POLICY_NAME_RE.match(self.name))
        )


class GlobalNetworkPolicy(_Policy):
    kind: Literal["GlobalNetworkPolicy"] = "GlobalNetworkPolicy"
    spec: GlobalNetworkPolicySpec = Field(default_factory=GlobalNetworkPolicySpec)

    def _check_name(self) -> None:
        self._require_name(
            _policy_name_problem(self.name, _names.GLOBAL_NETWORK_POLICY_NAME_RE.match(self.name))
        )


def _policy_name_problem(name: str, matched: object) -> str | None:
    if not name:
        return "must not be empty"
    if len(name) > _names.SUBDOMAIN_MAX:
        return f"must be at most {_names.SUBDOMAIN_MAX} characters"
    if not matched:
        return (
            "must consist of lower case alphanumeric characters or '-', optionally "
            "with one '.' (e.g. 'allow-db' or 'tier1.allow-db')"
        )
    return None


def _no_repeats(values: Sequence[str], alias: str) -> None:
    for index, value in enumerate(values):
        if value in values[:index]:
            fail(f"{value!r} specified more than once", at=join_path(alias, index), value=value)
