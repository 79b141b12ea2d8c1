"""Tier: an ordered group of policies with a default action.

Source: api ``tier.go`` (CEL rules on the built-in tiers) and libcalico-go
``resources/tier.go`` (``DefaultTierFields``: an unset order means 1 000 000,
an unset defaultAction means Deny).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from calico.resources import _names
from calico.resources._base import CalicoModel, GoFloat, fail
from calico.resources._resource import Resource

DEFAULT_TIER_ORDER = 1_000_000.0
# Built-in tiers: name -> (order, defaultAction) they must keep.
BUILTIN_TIERS: dict[str, tuple[float, str]] = {
    "kube-admin": (1_000.0, "Pass"),
    "default": (DEFAULT_TIER_ORDER, "Deny"),
    "kube-baseline": (10_000_000.0, "Pass"),
}


class TierSpec(CalicoModel):
    order: GoFloat | None = None
    default_action: Literal["Pass", "Deny"] | None = None


class TierStatus(CalicoModel):
    """Written by Kubernetes-backed Calico; kept so exports re-apply."""

    conditions: list[dict[str, Any]] = Field(default_factory=list)


class Tier(Resource):
    kind: Literal["Tier"] = "Tier"
    spec: TierSpec = Field(default_factory=TierSpec)
    status: TierStatus = Field(default_factory=TierStatus)

    # Go declares status without a pointer, so it always prints "status: {}".
    _always_emit: ClassVar[frozenset[str]] = Resource._always_emit | {"status"}

    def _check_name(self) -> None:
        # Tier names appear inside other names, so no dots (DNS-1123 label).
        self._require_name(_names.label_problem(self.name))

    def _complete(self) -> None:
        if self.spec.order is None:
            self.spec.order = DEFAULT_TIER_ORDER
        if self.spec.default_action is None:
            self.spec.default_action = "Deny"
        builtin = BUILTIN_TIERS.get(self.name)
        if builtin is None:
            return
        order, action = builtin
        if self.spec.default_action != action:
            fail(
                f"the {self.name!r} tier must have default action {action!r}",
                at="spec.defaultAction",
                value=self.spec.default_action,
            )
        if self.spec.order != order:
            fail(
                f"the {self.name!r} tier order must be {order:.0f}",
                at="spec.order",
                value=self.spec.order,
            )
