"""Profile: rules and labels inherited by the endpoints that reference it.

Source: api ``profile.go``.  Profiles run after all policy tiers; an
endpoint inherits ``labelsToApply``, its own labels winning on conflict.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from calico.resources._base import CalicoModel
from calico.resources._meta import check_labels
from calico.resources._resource import Resource
from calico.resources._rules import Rule
from calico.resources.policy import RULES_MAX


class ProfileSpec(CalicoModel):
    ingress: Annotated[list[Rule], Field(max_length=RULES_MAX)] = Field(default_factory=list)
    egress: Annotated[list[Rule], Field(max_length=RULES_MAX)] = Field(default_factory=list)
    labels_to_apply: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels_to_apply")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        check_labels(labels)
        return labels


class Profile(Resource):
    kind: Literal["Profile"] = "Profile"
    spec: ProfileSpec = Field(default_factory=ProfileSpec)
