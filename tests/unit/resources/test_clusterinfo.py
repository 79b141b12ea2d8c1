"""ClusterInformation singleton."""

from __future__ import annotations

from .helpers import doc, parse, rejects, roundtrip


def test_roundtrip() -> None:
    info = parse(
        "ClusterInformation",
        {
            "clusterGUID": "abc",
            "clusterType": "k8s,bgp",
            "calicoVersion": "v3.30",
            "datastoreReady": True,
            "variant": "Calico",
        },
        name="default",
    )
    assert info.to_dict()["spec"]["clusterGUID"] == "abc"
    roundtrip(info)


def test_only_default() -> None:
    rejects(doc("ClusterInformation", {}, name="other"), "metadata.name", "singleton")
    rejects(
        doc("ClusterInformation", {"datastoreReady": "yes"}, name="default"),
        "spec.datastoreReady",
        "boolean",
    )
