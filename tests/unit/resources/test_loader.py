"""load_documents / parse_documents: YAML and JSON files as calicoctl reads them."""

from __future__ import annotations

import json

import pytest

from calico.errors import ValidationError
from calico.resources import IPPool, NetworkPolicy, load_documents, parse_documents

POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool1
spec:
  cidr: 10.1.0.0/16
"""
POLICY = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: allow-tcp-6379
  namespace: production
spec:
  selector: role == 'database'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: role == 'frontend'
    destination:
      ports:
      - 6379
      - 10:20
"""


def test_multi_document_yaml() -> None:
    text = f"---\n{POOL}---\n---\n{POLICY}...\n"
    raws = load_documents(text, "f.yaml")
    assert [r["kind"] for r in raws] == ["IPPool", "NetworkPolicy"]
    pool, policy = parse_documents(text, "f.yaml")
    assert isinstance(pool, IPPool)
    assert isinstance(policy, NetworkPolicy)
    # YAML 1.1 would read 10:20 as the base-60 integer 620; Go reads a string.
    assert policy.spec.ingress[0].destination.ports == [6379, "10:20"]


def test_empty_text_and_documents() -> None:
    assert load_documents("") == []
    assert load_documents("---\n---\n# just a comment\n") == []


def test_yaml_list_document() -> None:
    text = (
        "- "
        + POOL.replace("\n", "\n  ").rstrip()
        + "\n- "
        + POLICY.replace("\n", "\n  ").rstrip()
        + "\n"
    )
    assert [r.kind for r in parse_documents(text)] == ["IPPool", "NetworkPolicy"]


def test_kind_list_with_items() -> None:
    data = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPoolList",
        "metadata": {"resourceVersion": "7"},
        "items": [
            {"metadata": {"name": "a"}, "spec": {"cidr": "10.0.0.0/16"}},
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "IPPool",
                "metadata": {"name": "b"},
                "spec": {"cidr": "10.1.0.0/16"},
            },
        ],
    }
    resources = parse_documents(json.dumps(data))
    assert [r.name for r in resources] == ["a", "b"]
    assert all(isinstance(r, IPPool) for r in resources)


def test_generic_list_keeps_item_kinds() -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                json_pool("a"),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
            ],
        }
    )
    raws = load_documents(text)
    assert [r["kind"] for r in raws] == ["IPPool", "Namespace"]


def json_pool(name: str) -> dict[str, object]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": name},
        "spec": {"cidr": "10.0.0.0/16"},
    }


def test_json_object_and_array() -> None:
    assert [r.name for r in parse_documents(json.dumps(json_pool("j1")))] == ["j1"]
    assert [r.name for r in parse_documents(json.dumps([json_pool("a"), json_pool("b")]))] == [
        "a",
        "b",
    ]


def test_kubernetes_objects_load_raw() -> None:
    text = """\
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {team: a}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
    raws = load_documents(text)
    assert raws[1]["apiVersion"] == "networking.k8s.io/v1"
    assert raws[1]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    with pytest.raises(
        ValidationError, match=r"^- document 1: Namespace\(prod\): field kind: unknown"
    ):
        parse_documents(text)


def test_yaml_scalars_follow_go() -> None:
    raw = load_documents(
        "metadata:\n  creationTimestamp: 2024-01-01T00:00:00Z\n  1: x\n  true: y\n"
    )[0]
    assert raw["metadata"] == {"creationTimestamp": "2024-01-01T00:00:00Z", "1": "x", "true": "y"}


def test_bad_yaml_names_source_and_document() -> None:
    text = POOL + "---\nkind: IPPool\nmetadata: [unclosed\n"
    # The line is counted from the start of the file.
    with pytest.raises(
        ValidationError, match=r"^pools\.yaml document 2: invalid YAML: .*\(line 10, column 1\)"
    ):
        load_documents(text, "pools.yaml")


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="document 1: invalid YAML: duplicate key 'name'"):
        load_documents("metadata:\n  name: a\n  name: b\n")
    with pytest.raises(ValidationError, match="document 1: invalid JSON: duplicate key 'kind'"):
        load_documents('{"kind": "IPPool", "kind": "Tier"}')


def test_bad_json_names_line() -> None:
    with pytest.raises(ValidationError, match=r"^in\.json document 1: invalid JSON: .*line 2"):
        load_documents('{"kind": "IPPool",\n "spec": {]}', "in.json")


def test_json_that_yaml_accepts_is_accepted() -> None:
    # calicoctl reads JSON with a YAML parser, which tolerates an empty value.
    assert load_documents('{"kind": "IPPool", "spec": }') == [{"kind": "IPPool", "spec": None}]


def test_scalar_document_is_rejected() -> None:
    with pytest.raises(ValidationError, match="document 2: expected a resource"):
        load_documents(POOL + "---\njust a string\n", "x")
    with pytest.raises(ValidationError, match="document 1 item 2: expected a resource mapping"):
        load_documents("- " + json.dumps(json_pool("a")) + "\n- 7\n")


def test_invalid_resource_names_document_kind_field_and_value() -> None:
    text = POOL + "---\n" + POOL.replace("pool1", "pool2").replace("10.1.0.0/16", "10.1.0.1/16")
    with pytest.raises(ValidationError) as info:
        parse_documents(text, "pools.yaml")
    message = str(info.value)
    assert message.startswith("pools.yaml document 2: IPPool(pool2): field spec.cidr: ")
    assert "'10.1.0.1/16'" in message
    assert info.value.field == "spec.cidr"


def test_list_item_errors_name_the_item() -> None:
    text = json.dumps([json_pool("a"), {**json_pool("b"), "spec": {"cidr": "x"}}])
    with pytest.raises(
        ValidationError, match=r"^f document 1 item 2: IPPool\(b\): field spec\.cidr"
    ):
        parse_documents(text, "f")


def test_all_documents_are_validated_before_returning() -> None:
    bad_last = POOL + "---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: Bad}\n"
    with pytest.raises(ValidationError, match="document 2: Tier"):
        parse_documents(bad_last)


def test_unknown_top_level_field() -> None:
    with pytest.raises(
        ValidationError, match=r"document 1: IPPool\(pool1\): field spek: unknown field"
    ):
        parse_documents(POOL + "spek: {}\n")
