"""NetworkPolicy and GlobalNetworkPolicy: defaults, names and policy-level rules."""

from __future__ import annotations

from typing import Any

import pytest

from calico.resources import (
    TIER_LABEL,
    GlobalNetworkPolicy,
    NetworkPolicy,
    Rule,
    policy_types_default,
)

from .helpers import doc, parse, rejects, roundtrip

ALLOW = {"action": "Allow"}
SERVICE = {"services": {"name": "service1", "namespace": "default"}}


@pytest.mark.parametrize(
    ("ingress", "egress", "expected"),
    [(0, 0, ["Ingress"]), (1, 0, ["Ingress"]), (0, 1, ["Egress"]), (2, 1, ["Ingress", "Egress"])],
)
def test_policy_types_default(ingress: int, egress: int, expected: list[str]) -> None:
    rule = Rule(action="Allow")
    assert policy_types_default([rule] * ingress, [rule] * egress) == expected


@pytest.mark.parametrize("kind", ["NetworkPolicy", "GlobalNetworkPolicy"])
def test_defaults(kind: str) -> None:
    policy = parse(
        kind,
        {"egress": [ALLOW]},
        name="allow-out",
        **({"namespace": "ns1"} if kind == "NetworkPolicy" else {}),
    )
    assert isinstance(policy, (NetworkPolicy, GlobalNetworkPolicy))
    assert policy.spec.tier == "default"
    assert policy.spec.types == ["Egress"]
    assert policy.spec.order is None
    assert policy.metadata.labels == {TIER_LABEL: "default"}
    roundtrip(policy)


def test_explicit_types_are_kept_even_if_rules_disagree() -> None:
    policy = parse("NetworkPolicy", {"ingress": [ALLOW], "types": ["Egress"]})
    assert isinstance(policy, NetworkPolicy)
    assert policy.spec.types == ["Egress"]
    assert parse("NetworkPolicy", {"types": []}).to_dict()["spec"]["types"] == ["Ingress"]


def test_missing_spec_is_an_empty_policy() -> None:
    policy = parse("GlobalNetworkPolicy", None)
    assert policy.to_dict()["spec"] == {"tier": "default", "types": ["Ingress"]}


def test_tier_label_follows_the_tier() -> None:
    policy = parse(
        "GlobalNetworkPolicy",
        {"tier": "security", "order": 10.5},
        name="security.allow",
        labels={"app": "x"},
    )
    assert policy.metadata.labels == {"app": "x", TIER_LABEL: "security"}
    assert policy.to_dict()["spec"]["order"] == 10.5
    assert parse("GlobalNetworkPolicy", {"order": 100.0}).to_dict()["spec"]["order"] == 100


@pytest.mark.parametrize(
    "name",
    ["thing", "th.ing", "tier1.allow-db", "knp.default.thing", "ossg.default.x.y", "a" * 253],
)
def test_network_policy_names(name: str) -> None:
    assert parse("NetworkPolicy", {}, name=name, namespace="default").name == name


@pytest.mark.parametrize(
    "name", ["t.h.i.ng", "tHiNg", "t~!s.h.i.ng", "a" * 254, "", "-x", "knp.other.x"]
)
def test_network_policy_bad_names(name: str) -> None:
    rejects(doc("NetworkPolicy", {}, name=name, namespace="default"), "metadata.name", "name ")


@pytest.mark.parametrize("name", ["thing", "th.ing"])
def test_global_policy_names(name: str) -> None:
    assert parse("GlobalNetworkPolicy", {}, name=name).name == name


@pytest.mark.parametrize("name", ["t~!s.h.i.ng", "tHiNg", "knp.default.thing", "t.h.i.ng"])
def test_global_policy_bad_names(name: str) -> None:
    rejects(doc("GlobalNetworkPolicy", {}, name=name), "metadata.name", "name ")


VALID_GNP: list[tuple[str, dict[str, Any]]] = [
    ("preDNAT with applyOnForward", {"preDNAT": True, "applyOnForward": True}),
    ("doNotTrack with applyOnForward", {"doNotTrack": True, "applyOnForward": True}),
    ("applyOnForward alone", {"applyOnForward": True}),
    ("preDNAT with ingress rules", {"preDNAT": True, "applyOnForward": True, "ingress": [ALLOW]}),
    ("preDNAT with Ingress type", {"preDNAT": True, "applyOnForward": True, "types": ["Ingress"]}),
    ("all flags false", {"preDNAT": False, "doNotTrack": False, "applyOnForward": False}),
    ("Types without ingress when Ingress present", {"ingress": [ALLOW], "types": ["Egress"]}),
    ("Types without egress when Egress present", {"egress": [ALLOW], "types": ["Ingress"]}),
    ("both types", {"types": ["Ingress", "Egress"]}),
    ("performance hint", {"performanceHints": ["AssumeNeededOnEveryNode"]}),
    ("namespaceSelector", {"namespaceSelector": "has(projectcalico.org/name)"}),
    (
        "service as ingress source with namespace",
        {"ingress": [{"action": "Allow", "source": SERVICE}]},
    ),
    (
        "service as egress destination with namespace",
        {"egress": [{"action": "Allow", "destination": SERVICE}]},
    ),
]


@pytest.mark.parametrize(("case", "spec"), VALID_GNP, ids=[c for c, _ in VALID_GNP])
def test_valid_global_policies(case: str, spec: dict[str, Any]) -> None:
    roundtrip(parse("GlobalNetworkPolicy", spec), written=spec)


INVALID_GNP: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "preDNAT and doNotTrack",
        {"preDNAT": True, "doNotTrack": True, "applyOnForward": True},
        "spec.preDNAT",
        "cannot both be true",
    ),
    (
        "preDNAT egress rules",
        {"preDNAT": True, "applyOnForward": True, "egress": [ALLOW]},
        "spec.egress",
        "cannot have any egress rules",
    ),
    (
        "preDNAT Egress type",
        {"preDNAT": True, "applyOnForward": True, "types": ["Egress"]},
        "spec.types",
        "cannot have 'Egress' type",
    ),
    (
        "preDNAT both types",
        {"preDNAT": True, "applyOnForward": True, "types": ["Ingress", "Egress"]},
        "spec.types",
        "'Egress'",
    ),
    ("preDNAT without applyOnForward", {"preDNAT": True}, "spec.applyOnForward", "must be true"),
    (
        "doNotTrack without applyOnForward",
        {"doNotTrack": True},
        "spec.applyOnForward",
        "must be true",
    ),
    ("repeated types", {"types": ["Egress", "Egress"]}, "spec.types[1]", "more than once"),
    ("unexpected type", {"types": ["unexpected"]}, "spec.types[0]", "must be"),
    ("three types", {"types": ["Ingress", "Egress", "Ingress"]}, "spec.types", "at most 2"),
    (
        "HTTP in egress",
        {"egress": [{"action": "Allow", "http": {"methods": ["GET"]}}], "types": ["Egress"]},
        "spec.egress[0].http",
        "not allowed in egress",
    ),
    (
        "global() namespaceSelector",
        {"namespaceSelector": "global()"},
        "spec.namespaceSelector",
        "global()",
    ),
    ("global() selector", {"selector": "global()"}, "spec.selector", "global()"),
    (
        "global() serviceAccountSelector",
        {"serviceAccountSelector": "global()"},
        "spec.serviceAccountSelector",
        "global()",
    ),
    (
        "junk performance hint",
        {"performanceHints": ["junk"]},
        "spec.performanceHints[0]",
        "must be",
    ),
    (
        "duplicate performance hints",
        {"performanceHints": ["AssumeNeededOnEveryNode"] * 2},
        "spec.performanceHints[1]",
        "more than once",
    ),
    (
        "service as ingress destination",
        {"ingress": [{"action": "Allow", "destination": SERVICE}]},
        "spec.ingress[0].destination.services",
        "not allowed in an ingress rule destination",
    ),
    (
        "service as egress source",
        {"egress": [{"action": "Allow", "source": SERVICE}]},
        "spec.egress[0].source.services",
        "not allowed in an egress rule source",
    ),
    (
        "service without namespace",
        {"egress": [{"action": "Allow", "destination": {"services": {"name": "s1"}}}]},
        "spec.egress[0].destination.services.namespace",
        "must specify a namespace",
    ),
    (
        "service with ports on egress",
        {
            "egress": [
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": [80], **SERVICE}}
            ]
        },
        "spec.egress[0].destination.ports",
        "cannot be specified with services",
    ),
    ("bad tier name", {"tier": "Bad_Tier"}, "spec.tier", "lower case"),
    ("infinite order", {"order": float("inf")}, "spec.order", "finite"),
    ("string order", {"order": "10"}, "spec.order", "must be a number"),
    ("bad selector", {"selector": "a ="}, "spec.selector", "invalid selector"),
    ("unknown field", {"applyOnFoward": True}, "spec.applyOnFoward", "unknown field"),
    ("too many rules", {"ingress": [ALLOW] * 1025}, "spec.ingress", "at most 1024"),
]


@pytest.mark.parametrize(
    ("case", "spec", "field", "message"), INVALID_GNP, ids=[c[0] for c in INVALID_GNP]
)
def test_invalid_global_policies(case: str, spec: dict[str, Any], field: str, message: str) -> None:
    rejects(doc("GlobalNetworkPolicy", spec), field, message)


def test_network_policy_has_no_host_fields() -> None:
    rejects(
        doc("NetworkPolicy", {"preDNAT": True}, namespace="ns"), "spec.preDNAT", "unknown field"
    )
    rejects(
        doc("NetworkPolicy", {"namespaceSelector": "all()"}, namespace="ns"),
        "spec.namespaceSelector",
        "unknown field",
    )


def test_network_policy_services() -> None:
    # A namespaced policy's services default to its own namespace.
    parse(
        "NetworkPolicy",
        {"egress": [{"action": "Allow", "destination": {"services": {"name": "s"}}}]},
        namespace="ns",
    )
    rejects(
        doc("NetworkPolicy", {"egress": [{"action": "Allow", "source": SERVICE}]}, namespace="ns"),
        "spec.egress[0].source.services",
        "egress rule source",
    )
    parse(
        "NetworkPolicy",
        {
            "ingress": [
                {"action": "Allow", "protocol": "TCP", "source": {"notPorts": [80], **SERVICE}}
            ]
        },
    )


def test_full_policy_roundtrip() -> None:
    policy = parse(
        "NetworkPolicy",
        {
            "tier": "default",
            "order": 100,
            "selector": "role == 'db'",
            "serviceAccountSelector": "has(sa)",
            "types": ["Ingress", "Egress"],
            "ingress": [
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "ipVersion": 4,
                    "source": {
                        "selector": "role == 'web'",
                        "namespaceSelector": "all()",
                        "nets": ["10.0.0.0/8"],
                        "notPorts": ["1:1023"],
                    },
                    "destination": {"ports": [5432, "metrics"]},
                    "metadata": {"annotations": {"note": "web to db"}},
                },
                {"action": "Deny", "protocol": "ICMP", "notICMP": {"type": 8, "code": 0}},
            ],
            "egress": [{"action": "Pass"}, {"action": "Log", "notProtocol": "UDPLite"}],
        },
        name="allow-db",
        namespace="prod",
        annotations={"owner": "team-db"},
        resourceVersion="42",
        uid="1234",
        creationTimestamp="2024-01-01T00:00:00Z",
    )
    roundtrip(policy)
    assert policy.label() == "NetworkPolicy(prod/allow-db)"
    assert policy.namespace == "prod"
