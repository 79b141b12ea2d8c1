"""k8s Namespace -> Profile kns.<ns>: upstream's Namespace conversion cases."""

from __future__ import annotations

from typing import Any

import pytest

from calico.errors import ValidationError
from calico.k8s import convert_document, namespace_to_profile
from calico.resources import parse_resource

ALLOW = [{"action": "Allow"}]


def namespace(name: str = "default", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **meta}, "spec": {}}


def test_namespace_to_profile() -> None:
    ns = namespace(
        labels={"foo": "bar", "roger": "rabbit"},
        annotations={},
        uid="30316465-6365-4463-ad63-3564622d3638",
    )
    assert namespace_to_profile(ns) == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Profile",
        "metadata": {"name": "kns.default"},
        "spec": {
            "ingress": ALLOW,
            "egress": ALLOW,
            "labelsToApply": {
                "pcns.foo": "bar",
                "pcns.roger": "rabbit",
                "pcns.projectcalico.org/name": "default",
                # What the API server adds to every namespace it stores.
                "pcns.kubernetes.io/metadata.name": "default",
            },
        },
    }


def test_namespace_without_labels_gets_only_the_name_labels() -> None:
    assert namespace_to_profile(namespace("x"))["spec"]["labelsToApply"] == {
        "pcns.projectcalico.org/name": "x",
        "pcns.kubernetes.io/metadata.name": "x",
    }


@pytest.mark.parametrize(
    "annotation",
    ['{"ingress": {"isolation": "DefaultDeny"}}', "invalidJSON", "{}"],
    ids=["DefaultDeny ignored", "malformed", "valid but not DefaultDeny"],
)
def test_network_policy_annotation_is_ignored(annotation: str) -> None:
    ns = namespace(annotations={"net.beta.kubernetes.io/network-policy": annotation})
    spec = namespace_to_profile(ns)["spec"]
    assert (spec["ingress"], spec["egress"]) == (ALLOW, ALLOW)


def test_kubectl_get_output_applies() -> None:
    ns = namespace(
        "team-a",
        labels={"kubernetes.io/metadata.name": "team-a", "env": "prod"},
        resourceVersion="42",
        creationTimestamp="2024-01-01T00:00:00Z",
    )
    ns["spec"] = {"finalizers": ["kubernetes"]}
    ns["status"] = {"phase": "Active"}
    profile = parse_resource(namespace_to_profile(ns))
    assert profile.name == "kns.team-a"
    assert profile.to_dict()["spec"]["labelsToApply"] == {
        "pcns.env": "prod",
        "pcns.kubernetes.io/metadata.name": "team-a",
        "pcns.projectcalico.org/name": "team-a",
    }


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"name": ""}, "v1 Namespace(): field metadata.name: is required"),
        ({"name": "a.b"}, "v1 Namespace(a.b): field metadata.name: must be a DNS-1123 label"),
        (
            {"name": "x", "labels": {"k": "a b"}},
            "v1 Namespace(x): field metadata.labels.k: label value must be",
        ),
        ({"name": "x", "labels": ["k"]}, "field metadata.labels: must be a mapping, not a list"),
    ],
)
def test_invalid_namespace(meta: dict[str, Any], message: str) -> None:
    raw = namespace()
    raw["metadata"] = meta
    with pytest.raises(ValidationError) as info:
        convert_document(raw)
    assert message in str(info.value)
