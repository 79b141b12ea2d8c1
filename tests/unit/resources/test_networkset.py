"""NetworkSet and GlobalNetworkSet."""

from __future__ import annotations

import pytest

from calico.resources import GlobalNetworkSet, NetworkSet

from .helpers import doc, parse, rejects, roundtrip


@pytest.mark.parametrize(
    ("kind", "meta"), [("NetworkSet", {"namespace": "ns1"}), ("GlobalNetworkSet", {})]
)
def test_nets_are_normalised(kind: str, meta: dict[str, str]) -> None:
    netset = parse(
        kind,
        {"nets": ["10.0.0.1", "11.0.0.0/8", "dead:beef::", "dead:beef::/96"]},
        labels={"a": "b"},
        **meta,
    )
    assert isinstance(netset, (NetworkSet, GlobalNetworkSet))
    assert netset.spec.nets == ["10.0.0.1/32", "11.0.0.0/8", "dead:beef::/128", "dead:beef::/96"]
    roundtrip(netset)


@pytest.mark.parametrize("kind", ["NetworkSet", "GlobalNetworkSet"])
def test_invalid(kind: str) -> None:
    rejects(doc(kind, {"nets": ["garbage"]}), "spec.nets[0]", "invalid CIDR")
    rejects(
        doc(kind, {"nets": ["10.0.0.1"]}, labels={"projectcalico.org/namespace": "foo"}),
        "metadata.labels",
        "reserved label",
    )
    rejects(doc(kind, {"nets": ["10.0.0.1"]}, name="test$set"), "metadata.name", "lower case")


def test_host_bits_are_kept_in_loose_cidrs() -> None:
    # Calico's "cidr" validator does not require masking; Felix masks when programming.
    netset = parse("GlobalNetworkSet", {"nets": ["10.0.0.1/24"]})
    assert netset.to_dict()["spec"]["nets"] == ["10.0.0.1/24"]
