"""Tier: defaults, names and the built-in tiers."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import Tier

from .helpers import doc, parse, rejects, roundtrip


def test_defaults() -> None:
    tier = parse("Tier", None, name="platform")
    assert isinstance(tier, Tier)
    assert tier.spec.order == 1_000_000
    assert tier.spec.default_action == "Deny"
    assert tier.to_dict()["spec"] == {"order": 1000000, "defaultAction": "Deny"}
    assert tier.to_dict()["status"] == {}  # Go prints the non-pointer status
    roundtrip(tier)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("foo", {"order": 100}),
        ("fo-o", {"order": 100}),
        ("a" * 63, {}),
        ("default", {"order": 1000000, "defaultAction": "Deny"}),
        ("default", {}),
        ("kube-admin", {"order": 1000, "defaultAction": "Pass"}),
        ("kube-baseline", {"order": 10000000, "defaultAction": "Pass"}),
        ("platform", {"order": 100, "defaultAction": "Pass"}),
    ],
)
def test_valid(name: str, spec: dict[str, Any]) -> None:
    roundtrip(parse("Tier", spec, name=name), written=spec)


@pytest.mark.parametrize(
    ("name", "spec", "field", "message"),
    [
        ("fo.o", {}, "metadata.name", "lower case"),
        ("a" * 64, {}, "metadata.name", "at most 63"),
        ("t~!s.h.i.ng", {}, "metadata.name", "lower case"),
        ("default", {"order": 10, "defaultAction": "Deny"}, "spec.order", "must be 1000000"),
        ("default", {"defaultAction": "Pass"}, "spec.defaultAction", "'Deny'"),
        ("kube-admin", {"order": 10, "defaultAction": "Pass"}, "spec.order", "must be 1000"),
        ("kube-admin", {"order": 1000, "defaultAction": "Deny"}, "spec.defaultAction", "'Pass'"),
        ("kube-admin", {"order": 1000}, "spec.defaultAction", "'Pass'"),
        ("kube-baseline", {"order": 10, "defaultAction": "Pass"}, "spec.order", "must be 10000000"),
        (
            "kube-baseline",
            {"order": 10000000, "defaultAction": "Deny"},
            "spec.defaultAction",
            "'Pass'",
        ),
        ("foo", {"defaultAction": "Allow"}, "spec.defaultAction", "must be"),
        ("foo", {"order": "1"}, "spec.order", "number"),
    ],
)
def test_invalid(name: str, spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("Tier", spec, name=name), field, message)


def test_status_conditions_are_kept() -> None:
    data = doc("Tier", {}, name="t1")
    data["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    tier = parse("Tier", {}, name="t1")
    roundtrip(tier)
    from calico.resources import parse_resource

    assert parse_resource(data).to_dict()["status"] == data["status"]
