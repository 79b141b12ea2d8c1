"""Profile: rules plus labelsToApply."""

from __future__ import annotations

import pytest

from calico.resources import Profile

from .helpers import doc, parse, rejects, roundtrip

VALUE63, VALUE64 = "x" * 63, "x" * 64


def test_namespace_profile_roundtrip() -> None:
    profile = parse(
        "Profile",
        {
            "ingress": [{"action": "Allow"}],
            "egress": [{"action": "Allow"}],
            "labelsToApply": {
                "pcns.projectcalico.org/name": "ns1",
                "project.calico.org/my-valid-label": VALUE63,
            },
        },
        name="kns.ns1",
    )
    assert isinstance(profile, Profile)
    assert profile.spec.labels_to_apply["pcns.projectcalico.org/name"] == "ns1"
    roundtrip(profile)


def test_empty_profile() -> None:
    assert parse("Profile", None, name="p").to_dict()["spec"] == {}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"project.calico.org/my-valid-label": VALUE64}, "at most 63"),
        ({".mylabel": "value"}, "label key"),
        ({"my!nvalid-label": "value"}, "label key"),
        ({"my-invalid-label$": "value"}, "label key"),
    ],
)
def test_bad_labels_to_apply(labels: dict[str, str], message: str) -> None:
    rejects(doc("Profile", {"labelsToApply": labels}), "spec.labelsToApply", message)


def test_profile_rules_are_validated() -> None:
    rejects(
        doc("Profile", {"egress": [{"action": "Allow", "destination": {"ports": [80]}}]}),
        "spec.egress[0].destination.ports[0]",
        "protocol",
    )
