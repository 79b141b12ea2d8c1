"""convert_document: dispatch by apiVersion/kind, lists, pass-through."""

from __future__ import annotations

from typing import Any

import pytest

from calico.errors import ValidationError
from calico.k8s import convert_document, is_kubernetes_document

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
NP = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "x"},
    "spec": {"podSelector": {}},
}
CALICO_NP = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "x"},
    "spec": {"selector": "all()"},
}


def _names(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in docs]


@pytest.mark.parametrize(
    "raw",
    [
        CALICO_NP,
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
        {"apiVersion": "networking.k8s.io/v1beta1", "kind": "NetworkPolicy"},
        {"kind": "Namespace"},
        {},
    ],
    ids=["calico policy", "k8s pod", "old k8s api", "no apiVersion", "empty"],
)
def test_other_documents_pass_through_unchanged(raw: dict[str, Any]) -> None:
    assert convert_document(raw) == [raw]
    assert convert_document(raw)[0] is raw
    assert not is_kubernetes_document(raw)


def test_single_objects() -> None:
    assert _names(convert_document(NS)) == [("Profile", "kns.x")]
    assert _names(convert_document(NP)) == [("NetworkPolicy", "knp.default.deny")]
    assert is_kubernetes_document(NS)
    assert is_kubernetes_document(NP)


def test_typed_lists_give_their_items_kind_and_api_version() -> None:
    namespaces = {
        "apiVersion": "v1",
        "kind": "NamespaceList",
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
    }
    policies = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicyList",
        "items": [{"metadata": {"name": "p", "namespace": "a"}, "spec": {}}],
    }
    assert _names(convert_document(namespaces)) == [("Profile", "kns.a"), ("Profile", "kns.b")]
    assert _names(convert_document(policies)) == [("NetworkPolicy", "knp.default.p")]


def test_v1_list_mixes_kinds_and_passes_calico_items_through() -> None:
    mixed = {"apiVersion": "v1", "kind": "List", "items": [NS, NP, CALICO_NP], "metadata": {}}
    converted = convert_document(mixed)
    assert _names(converted) == [
        ("Profile", "kns.x"),
        ("NetworkPolicy", "knp.default.deny"),
        ("NetworkPolicy", "deny"),
    ]
    assert converted[2] == CALICO_NP


def test_empty_list() -> None:
    assert convert_document({"apiVersion": "v1", "kind": "List", "items": None}) == []


def test_bad_list_item_is_named() -> None:
    with pytest.raises(
        ValidationError, match=r"^NamespaceList: field items\[1\]: must be a mapping"
    ):
        convert_document({"apiVersion": "v1", "kind": "NamespaceList", "items": [NS, "x"]})


def test_error_inside_list_names_the_item() -> None:
    bad = {**NP, "metadata": {"name": "bad", "namespace": "x"}, "spec": {"podSelector": []}}
    with pytest.raises(ValidationError) as info:
        convert_document({"apiVersion": "v1", "kind": "List", "items": [NP, bad]})
    assert str(info.value) == (
        "networking.k8s.io/v1 NetworkPolicy(x/bad): field spec.podSelector: "
        "must be a mapping, not a list (value [])"
    )
