"""Behaviour shared by every model: construction, errors, output, equality."""

from __future__ import annotations

import pytest

from calico.errors import ValidationError
from calico.resources import (
    API_VERSION,
    IPPool,
    IPPoolSpec,
    NetworkPolicy,
    NetworkPolicySpec,
    ObjectMeta,
    Rule,
    WorkloadEndpoint,
    WorkloadEndpointSpec,
    parse_resource,
)

from .helpers import doc, parse, roundtrip


def test_python_construction_uses_snake_case_and_applies_defaults() -> None:
    pool = IPPool(
        metadata=ObjectMeta(name="p1"), spec=IPPoolSpec(cidr="10.0.0.0/16", nat_outgoing=True)
    )
    assert pool.api_version == API_VERSION
    assert pool.kind == "IPPool"
    assert pool.spec.block_size == 26
    assert pool == parse("IPPool", {"cidr": "10.0.0.0/16", "natOutgoing": True}, name="p1")
    roundtrip(pool)


def test_python_construction_raises_calico_errors() -> None:
    with pytest.raises(ValidationError) as info:
        IPPoolSpec(cidr="10.0.0.1/16")
    assert str(info.value).startswith("field cidr: CIDR is not strictly masked")
    with pytest.raises(ValidationError) as info:
        IPPool(metadata=ObjectMeta(name="Pool_1"), spec=IPPoolSpec(cidr="10.0.0.0/16"))
    assert str(info.value).startswith("IPPool(Pool_1): field metadata.name: name must consist")
    with pytest.raises(ValidationError, match=r"^field action: is required$"):
        Rule()  # type: ignore[call-arg]


def test_documents_must_use_calico_field_names() -> None:
    # Only the JSON (camelCase) names are accepted from documents.
    with pytest.raises(ValidationError, match=r"field spec\.nat_outgoing: unknown field"):
        parse_resource(doc("IPPool", {"cidr": "10.0.0.0/16", "nat_outgoing": True}))


def test_errors_are_reported_once_per_nesting_level() -> None:
    with pytest.raises(ValidationError) as info:
        parse_resource(
            doc(
                "NetworkPolicy",
                {
                    "ingress": [
                        {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80, 0]}}
                    ]
                },
                namespace="ns",
            )
        )
    assert str(info.value) == (
        "NetworkPolicy(ns/test): field spec.ingress[0].destination.ports[1]: "
        "port number must be between 1 and 65535 (value 0)"
    )
    assert info.value.field == "spec.ingress[0].destination.ports[1]"
    assert info.value.resource == "NetworkPolicy(ns/test)"
    assert info.value.value == 0


def test_to_dict_omits_empty_fields_like_go_omitempty() -> None:
    policy = NetworkPolicy(
        metadata=ObjectMeta(name="a", namespace="ns"),
        spec=NetworkPolicySpec(order=0, ingress=[Rule(action="Deny")]),
    )
    data = policy.to_dict()
    # order is a pointer in Go: 0 is printed; unset optional fields are not.
    assert data["spec"] == {
        "tier": "default",
        "order": 0,
        "ingress": [{"action": "Deny"}],
        "types": ["Ingress"],
    }
    assert list(data) == ["apiVersion", "kind", "metadata", "spec"]
    assert data["metadata"] == {
        "name": "a",
        "namespace": "ns",
        "labels": {"projectcalico.org/tier": "default"},
    }


def test_label_and_scope() -> None:
    wep = WorkloadEndpoint(
        metadata=ObjectMeta(namespace="prod"),
        spec=WorkloadEndpointSpec(
            node="n",
            orchestrator="cni",
            container_id="abc",
            endpoint="eth0",
            interface_name="cali0",
        ),
    )
    assert wep.label() == "WorkloadEndpoint(prod/n-cni-abc-eth0)"
    assert wep.namespace == "prod"
    pool = parse("IPPool", {"cidr": "10.0.0.0/16"}, name="p")
    assert (pool.label(), pool.namespace) == ("IPPool(p)", "")


def test_metadata_fields_roundtrip() -> None:
    pool = parse(
        "IPPool",
        {"cidr": "10.0.0.0/16"},
        name="p",
        resourceVersion="12",
        uid="u-1",
        creationTimestamp=None,
        generation=3,
        finalizers=["x/y"],
        ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "1"}],
    )
    assert pool.metadata.resource_version == "12"
    assert "creationTimestamp" not in pool.to_dict()["metadata"]
    roundtrip(pool)
    with pytest.raises(ValidationError, match=r"field metadata\.nmae: unknown field"):
        parse_resource(doc("IPPool", {"cidr": "10.0.0.0/16"}, nmae="x"))
    with pytest.raises(ValidationError, match=r"field metadata\.namespace"):
        parse_resource(doc("NetworkPolicy", {}, namespace="Bad_NS"))


def test_null_means_unset_as_in_go() -> None:
    data = doc("NetworkPolicy", None, namespace="ns", labels=None, creationTimestamp=None)
    data["spec"] = None
    policy = parse_resource(data)
    assert policy.to_dict()["spec"] == {"tier": "default", "types": ["Ingress"]}
    data["spec"] = {
        "ingress": [{"action": "Allow", "protocol": None, "source": None}],
        "order": None,
    }
    assert parse_resource(data).to_dict()["spec"]["ingress"] == [{"action": "Allow"}]
