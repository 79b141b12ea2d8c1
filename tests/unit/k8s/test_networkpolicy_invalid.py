"""Invalid k8s NetworkPolicies: one ValidationError naming the field path and value.

What the Kubernetes API server's validation refuses, we refuse too, so that
a policy never converts into something other than what its author meant.
Upstream's "should drop rules with invalid ports" case is here: Calico's
watcher drops the bad rule and keeps the rest; calicoctl rejects the policy.
"""

from __future__ import annotations

import pytest

from calico.errors import ValidationError
from calico.k8s import convert_document
from tests.unit.k8s.test_networkpolicy import k8s_policy

LABEL = "networking.k8s.io/v1 NetworkPolicy(default/test.policy)"

INVALID: list[tuple[str, str, str]] = [
    (
        "invalid port range as a port name (upstream: rule dropped)",
        "podSelector: {}\ningress:\n- ports: [{port: 80}, {port: '-50:-1'}]",
        "field spec.ingress[0].ports[1].port: must be a port number 1-65535 or a port name",
    ),
    (
        "port out of range",
        "podSelector: {}\negress:\n- ports: [{port: 70000}]",
        "field spec.egress[0].ports[0].port: must be between 1 and 65535 (value 70000)",
    ),
    (
        "port zero",
        "podSelector: {}\ningress:\n- ports: [{port: 0}]",
        "field spec.ingress[0].ports[0].port: must be between 1 and 65535 (value 0)",
    ),
    (
        "numeric string port is not a port name",
        "podSelector: {}\ningress:\n- ports: [{port: '80'}]",
        "field spec.ingress[0].ports[0].port: must be a port number 1-65535 or a port name",
    ),
    (
        "unsupported protocol",
        "podSelector: {}\ningress:\n- ports: [{protocol: ICMP}]",
        "field spec.ingress[0].ports[0].protocol: must be one of TCP, UDP, SCTP (value 'ICMP')",
    ),
    (
        "lower-case protocol",
        "podSelector: {}\ningress:\n- ports: [{protocol: tcp, port: 80}]",
        "field spec.ingress[0].ports[0].protocol: must be one of TCP, UDP, SCTP (value 'tcp')",
    ),
    (
        "endPort below port",
        "podSelector: {}\ningress:\n- ports: [{port: 90, endPort: 80}]",
        "field spec.ingress[0].ports[0].endPort: must be greater than or equal to port (90) "
        "(value 80)",
    ),
    (
        "endPort with a named port",
        "podSelector: {}\ningress:\n- ports: [{port: http, endPort: 80}]",
        "field spec.ingress[0].ports[0].endPort: may not be set when port is a name (value 80)",
    ),
    (
        "endPort without port",
        "podSelector: {}\ningress:\n- ports: [{endPort: 80}]",
        "field spec.ingress[0].ports[0].endPort: may not be set without port (value 80)",
    ),
    (
        "peer with nothing in it",
        "podSelector: {}\ningress:\n- from: [{}]",
        "field spec.ingress[0].from[0]: must specify podSelector, namespaceSelector or ipBlock",
    ),
    (
        "ipBlock combined with a podSelector",
        "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]",
        "field spec.egress[0].to[0].ipBlock: may not be combined with podSelector or "
        "namespaceSelector",
    ),
    (
        "ipBlock without cidr",
        "podSelector: {}\negress:\n- to: [{ipBlock: {except: [10.0.0.0/8]}}]",
        "field spec.egress[0].to[0].ipBlock.cidr: is required",
    ),
    (
        "ipBlock cidr is not a CIDR",
        "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 192.168.0.0/55}}]",
        "field spec.egress[0].to[0].ipBlock.cidr: must be a valid CIDR (value '192.168.0.0/55')",
    ),
    (
        "ipBlock cidr without prefix length",
        "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 10.0.0.1}}]",
        "field spec.egress[0].to[0].ipBlock.cidr: must be a CIDR (address/prefix length)",
    ),
    (
        "except outside the cidr",
        "podSelector: {}\ningress:\n"
        "- from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]",
        "field spec.ingress[0].from[0].ipBlock.except[0]: must be a strict subset of cidr "
        "10.0.0.0/16 (value '10.1.0.0/24')",
    ),
    (
        "except equal to the cidr",
        "podSelector: {}\ningress:\n"
        "- from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}}]",
        "must be a strict subset of cidr 10.0.0.0/16 (value '10.0.0.0/16')",
    ),
    (
        "In without values",
        "podSelector: {matchExpressions: [{key: k, operator: In}]}",
        "field spec.podSelector.matchExpressions[0].values: must be specified when operator is In",
    ),
    (
        "Exists with values",
        "podSelector: {matchExpressions: [{key: k, operator: Exists, values: [a]}]}",
        "field spec.podSelector.matchExpressions[0].values: may not be specified when operator "
        "is Exists",
    ),
    (
        "unknown operator",
        "podSelector: {matchExpressions: [{key: k, operator: Equals, values: [a]}]}",
        "field spec.podSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, "
        "DoesNotExist (value 'Equals')",
    ),
    (
        "bad label key",
        "podSelector: {matchLabels: {'bad key': v}}",
        "field spec.podSelector.matchLabels: label key name must be",
    ),
    (
        "bad label value in a namespaceSelector",
        'podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {k: "it\'s"}}}]',
        "field spec.ingress[0].from[0].namespaceSelector.matchLabels.k: label value must be",
    ),
    (
        "label value that is not a string",
        "podSelector: {matchLabels: {k: 1}}",
        "field spec.podSelector.matchLabels.k: must be a string, not a number (value 1)",
    ),
    (
        "unknown spec field (typo)",
        "podselector: {}",
        "field spec.podselector: unknown field",
    ),
    (
        "unknown rule field",
        "podSelector: {}\ningress:\n- to: [{podSelector: {}}]",
        "field spec.ingress[0].to: unknown field",
    ),
    (
        "bad policy type",
        "podSelector: {}\npolicyTypes: [ingress]",
        "field spec.policyTypes[0]: must be Ingress or Egress (value 'ingress')",
    ),
    (
        "rules not a list",
        "podSelector: {}\ningress: {from: []}",
        "field spec.ingress: must be a list, not a mapping",
    ),
]


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_policy_names_field_and_value(spec: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        convert_document(k8s_policy(spec))
    text = str(info.value)
    assert text.startswith(LABEL + ": ")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "NetworkPolicy(): field metadata.name: is required"),
        ({"name": "Web"}, "field metadata.name: must be a DNS-1123 subdomain"),
        ({"name": "web", "namespace": "x.y"}, "field metadata.namespace: must be a DNS-1123 label"),
        ({"name": "web", "nmae": "x"}, "field metadata.nmae: unknown field"),
    ],
)
def test_invalid_metadata(metadata: dict[str, str], message: str) -> None:
    raw = k8s_policy("podSelector: {}")
    raw["metadata"] = metadata
    with pytest.raises(ValidationError, match=r"^networking\.k8s\.io/v1 NetworkPolicy") as info:
        convert_document(raw)
    assert message in str(info.value)
