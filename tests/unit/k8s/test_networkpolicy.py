"""k8s NetworkPolicy -> Calico NetworkPolicy: Calico's conversion_test.go cases as a table.

Each case is the ``spec`` of a ``networking.k8s.io/v1 NetworkPolicy`` named
``test.policy`` in namespace ``default`` (as upstream) and the full Calico
``spec`` written out by hand from upstream's expectations.  Upstream case
names are kept as ids.  Where our behaviour deliberately differs (API-server
defaulting of an absent ``policyTypes``; invalid input rejected instead of
the bad rule dropped) the case says so.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from calico.k8s import network_policy_to_calico
from calico.resources import parse_resource

ORCH = "projectcalico.org/orchestrator == 'k8s'"
SEL_K_K2 = f"{ORCH} && k == 'v' && k2 == 'v2'"
SEL_LABEL = f"{ORCH} && label == 'value'"
SEL_LABEL2 = f"{ORCH} && label == 'value' && label2 == 'value2'"
LABELS_SPEC = "podSelector: {matchLabels: {label: value, label2: value2}}\n"


def k8s_policy(spec: str, name: str = "test.policy", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": yaml.safe_load(spec),
    }


def calico(selector: str, types: list[str], **rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"order": 1000, "tier": "default", "selector": selector, "types": types, **rules}


CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "basic k8s NetworkPolicy",
        LABELS_SPEC + "ingress:\n- ports: [{port: 80}, {port: foo}]\n"
        "  from: [{podSelector: {matchLabels: {k: v, k2: v2}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL2,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": SEL_K_K2},
                    "destination": {"ports": [80, "foo"]},
                }
            ],
        ),
    ),
    (
        "no ports",
        LABELS_SPEC + "ingress:\n- from: [{podSelector: {matchLabels: {k: v, k2: v2}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL2, ["Ingress"], ingress=[{"action": "Allow", "source": {"selector": SEL_K_K2}}]
        ),
    ),
    (
        "blank ports",
        LABELS_SPEC + "ingress:\n- ports: [{port: 80}, {}]\n"
        "  from: [{podSelector: {matchLabels: {k: v, k2: v2}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL2,
            ["Ingress"],
            ingress=[{"action": "Allow", "protocol": "TCP", "source": {"selector": SEL_K_K2}}],
        ),
    ),
    (
        "egress with blank ports",
        LABELS_SPEC + "egress:\n- ports: [{}, {port: 80}]\n"
        "  to: [{podSelector: {matchLabels: {k: v, k2: v2}}}]\n"
        "- ports: [{port: 53, protocol: UDP}]\n"
        "policyTypes: [Egress]",
        calico(
            SEL_LABEL2,
            ["Egress"],
            egress=[
                {"action": "Allow", "protocol": "TCP", "destination": {"selector": SEL_K_K2}},
                {"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}},
            ],
        ),
    ),
    (
        "no rules",
        "podSelector: {matchLabels: {label: value}}\npolicyTypes: [Ingress]",
        calico(SEL_LABEL, ["Ingress"]),
    ),
    (
        "default-deny egress",
        "podSelector: {}\npolicyTypes: [Egress]",
        calico(ORCH, ["Egress"]),
    ),
    (
        "multiple peers",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- ports: [{}]\n"
        "  from: [{podSelector: {matchLabels: {k: v}}}, {podSelector: {matchLabels: {k2: v2}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": f"{ORCH} && k == 'v'"},
                },
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": f"{ORCH} && k2 == 'v2'"},
                },
            ],
        ),
    ),
    (
        "DoesNotExist expression",
        LABELS_SPEC + "ingress:\n- ports: [{port: 80}, {port: foo}]\n"
        "  from: [{podSelector: {matchExpressions: [{key: toast, operator: DoesNotExist}]}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL2,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": f"{ORCH} && ! has(toast)"},
                    "destination": {"ports": [80, "foo"]},
                }
            ],
        ),
    ),
    (
        "multiple peers and ports",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- ports: [{port: 90, protocol: UDP}, {port: 80, protocol: TCP}]\n"
        "  from: [{podSelector: {matchLabels: {k: v}}}, {podSelector: {matchLabels: {k2: v2}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "protocol": protocol,
                    "source": {"selector": selector},
                    "destination": {"ports": [port]},
                }
                for protocol, port in (("TCP", 80), ("UDP", 90))
                for selector in (f"{ORCH} && k == 'v'", f"{ORCH} && k2 == 'v2'")
            ],
        ),
    ),
    (
        "empty podSelector",
        "podSelector: {}\npolicyTypes: [Ingress]",
        calico(ORCH, ["Ingress"]),
    ),
    (
        "namespaceSelector",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- from:\n"
        "  - namespaceSelector: {matchLabels: {namespaceRole: dev, namespaceFoo: bar}}\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "source": {
                        "selector": ORCH,
                        "namespaceSelector": "namespaceFoo == 'bar' && namespaceRole == 'dev'",
                    },
                }
            ],
        ),
    ),
    (
        "nil namespace selector",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- from: [{namespaceSelector: null, podSelector: {}}]\n"
        "policyTypes: [Ingress]",
        calico(SEL_LABEL, ["Ingress"], ingress=[{"action": "Allow", "source": {"selector": ORCH}}]),
    ),
    (
        "empty namespaceSelector",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- from: [{namespaceSelector: {matchLabels: {}}}]\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL,
            ["Ingress"],
            ingress=[
                {"action": "Allow", "source": {"selector": ORCH, "namespaceSelector": "all()"}}
            ],
        ),
    ),
    (
        "pod and namespace selectors",
        "podSelector: {matchLabels: {label: value}}\n"
        "ingress:\n- from:\n"
        "  - namespaceSelector: {matchLabels: {namespaceRole: dev, namespaceFoo: bar}}\n"
        "    podSelector: {matchLabels: {podA: B, podC: D}}\n"
        "policyTypes: [Ingress]",
        calico(
            SEL_LABEL,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "source": {
                        "selector": f"{ORCH} && podA == 'B' && podC == 'D'",
                        "namespaceSelector": "namespaceFoo == 'bar' && namespaceRole == 'dev'",
                    },
                }
            ],
        ),
    ),
    (
        "podSelector.MatchExpressions",
        "podSelector: {matchExpressions: [{key: k, operator: In, values: [v1, v2]}]}\n"
        "policyTypes: [Ingress]",
        calico(f"{ORCH} && k in {{ 'v1', 'v2' }}", ["Ingress"]),
    ),
    (
        "Ports only",
        "podSelector: {}\ningress:\n- ports: [{protocol: TCP, port: 80}]\npolicyTypes: [Ingress]",
        calico(
            ORCH,
            ["Ingress"],
            ingress=[{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}],
        ),
    ),
    (
        "Port Range only",
        "podSelector: {}\ningress:\n- ports: [{protocol: TCP, port: 32000, endPort: 32768}]\n"
        "policyTypes: [Ingress]",
        calico(
            ORCH,
            ["Ingress"],
            ingress=[
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["32000:32768"]}}
            ],
        ),
    ),
    (
        "Ports only (egress)",
        "podSelector: {}\negress:\n- ports: [{protocol: TCP, port: 80}]\npolicyTypes: [Egress]",
        calico(
            ORCH,
            ["Egress"],
            egress=[{"action": "Allow", "protocol": "TCP", "destination": {"ports": [80]}}],
        ),
    ),
    (
        "Port Range only (egress)",
        "podSelector: {}\negress:\n- ports: [{protocol: TCP, port: 32000, endPort: 32768}]\n"
        "policyTypes: [Egress]",
        calico(
            ORCH,
            ["Egress"],
            egress=[
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["32000:32768"]}}
            ],
        ),
    ),
    (
        "Ingress rule with an IPBlock Peer",
        "podSelector: {}\ningress:\n"
        "- from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.3.0/24, 192.168.4.0/24]}}]\n"
        "policyTypes: [Ingress]",
        calico(
            ORCH,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "source": {
                        "nets": ["192.168.0.0/16"],
                        "notNets": ["192.168.3.0/24", "192.168.4.0/24"],
                    },
                }
            ],
        ),
    ),
    (
        "Egress rule with an IPBlock Peer",
        "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 192.168.0.0/16, "
        "except: [192.168.3.0/24, 192.168.4.0/24, 192.168.5.0/24]}}]\n"
        "policyTypes: [Egress]",
        calico(
            ORCH,
            ["Egress"],
            egress=[
                {
                    "action": "Allow",
                    "destination": {
                        "nets": ["192.168.0.0/16"],
                        "notNets": ["192.168.3.0/24", "192.168.4.0/24", "192.168.5.0/24"],
                    },
                }
            ],
        ),
    ),
    (
        "Egress rule with IPBlock and Ports",
        "podSelector: {}\negress:\n"
        "- ports: [{port: 90, protocol: UDP}, {port: 80, protocol: TCP}]\n"
        "  to: [{ipBlock: {cidr: 192.168.0.0/16, "
        "except: [192.168.3.0/24, 192.168.4.0/24, 192.168.5.0/24]}}]\n"
        "policyTypes: [Egress]",
        calico(
            ORCH,
            ["Egress"],
            egress=[
                {
                    "action": "Allow",
                    "protocol": protocol,
                    "destination": {
                        "nets": ["192.168.0.0/16"],
                        "notNets": ["192.168.3.0/24", "192.168.4.0/24", "192.168.5.0/24"],
                        "ports": [port],
                    },
                }
                for protocol, port in (("TCP", 80), ("UDP", 90))
            ],
        ),
    ),
    (
        "both an Egress and an Ingress rule",
        "podSelector: {}\n"
        "ingress:\n"
        "- from: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.3.0/24, 192.168.4.0/24]}}]\n"
        "egress:\n- to: [{ipBlock: {cidr: 10.10.0.0/16, except: [10.10.13.0/24]}}]\n"
        "policyTypes: [Egress, Ingress]",
        calico(
            ORCH,
            ["Ingress", "Egress"],
            ingress=[
                {
                    "action": "Allow",
                    "source": {
                        "nets": ["192.168.0.0/16"],
                        "notNets": ["192.168.3.0/24", "192.168.4.0/24"],
                    },
                }
            ],
            egress=[
                {
                    "action": "Allow",
                    "destination": {"nets": ["10.10.0.0/16"], "notNets": ["10.10.13.0/24"]},
                }
            ],
        ),
    ),
    # --- k8s <= 1.7 section upstream (no policyTypes): Ingress only ----------------
    (
        "no policyTypes: basic",
        LABELS_SPEC + "ingress:\n- ports: [{port: 80}]\n"
        "  from: [{podSelector: {matchLabels: {k: v, k2: v2}}}]",
        calico(
            SEL_LABEL2,
            ["Ingress"],
            ingress=[
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "source": {"selector": SEL_K_K2},
                    "destination": {"ports": [80]},
                }
            ],
        ),
    ),
    (
        "no policyTypes: no rules",
        "podSelector: {matchLabels: {label: value}}",
        calico(SEL_LABEL, ["Ingress"]),
    ),
    # --- ours: the API server's policyTypes defaulting, then Calico's conversion ----
    (
        "no policyTypes, egress rules: API-server default adds Egress",
        "podSelector: {}\negress:\n- ports: [{port: 53, protocol: UDP}]",
        calico(
            ORCH,
            ["Ingress", "Egress"],
            egress=[{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}}],
        ),
    ),
    (
        "empty rule allows all; SCTP; named port; endPort == port",
        "podSelector: {}\ningress:\n- {}\negress:\n"
        "- ports: [{port: 7, protocol: SCTP}, {port: dns, protocol: UDP}, {port: 9, endPort: 9}]\n"
        "policyTypes: [Ingress, Egress]",
        calico(
            ORCH,
            ["Ingress", "Egress"],
            ingress=[{"action": "Allow"}],
            egress=[
                {"action": "Allow", "protocol": "SCTP", "destination": {"ports": [7]}},
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": [9]}},
                {"action": "Allow", "protocol": "UDP", "destination": {"ports": ["dns"]}},
            ],
        ),
    ),
    (
        "ports of one protocol simplified; all-ports entry wins",
        "podSelector: {}\ningress:\n"
        "- ports: [{port: 82}, {port: 80}, {port: http}, {port: 81},\n"
        "          {protocol: UDP}, {port: 5, protocol: UDP}]",
        calico(
            ORCH,
            ["Ingress"],
            ingress=[
                {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["http", "80:82"]}},
                {"action": "Allow", "protocol": "UDP"},
            ],
        ),
    ),
    (
        "ipBlock with host bits is masked as Go's ParseCIDR does",
        "podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 10.1.2.3/16}}]",
        calico(
            ORCH, ["Ingress"], ingress=[{"action": "Allow", "source": {"nets": ["10.1.0.0/16"]}}]
        ),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_conversion(spec: str, expected: dict[str, Any]) -> None:
    converted = network_policy_to_calico(k8s_policy(spec))
    assert converted == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "NetworkPolicy",
        "metadata": {"name": "knp.default.test.policy", "namespace": "default"},
        "spec": expected,
    }


@pytest.mark.parametrize("spec", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_conversion_is_a_valid_calico_policy(spec: str) -> None:
    policy = parse_resource(network_policy_to_calico(k8s_policy(spec)))
    assert policy.name == "knp.default.test.policy"
    assert policy.namespace == "default"


def test_namespace_left_unset_for_calicoctl_to_fill_in() -> None:
    raw = k8s_policy("podSelector: {}")
    del raw["metadata"]["namespace"]
    assert network_policy_to_calico(raw)["metadata"] == {"name": "knp.default.test.policy"}


def test_missing_spec_is_a_default_deny_ingress_for_every_pod() -> None:
    raw = k8s_policy("{}")
    del raw["spec"]
    assert network_policy_to_calico(raw)["spec"] == calico(ORCH, ["Ingress"])


def test_kubectl_output_metadata_and_status_accepted() -> None:
    raw = k8s_policy("podSelector: {}")
    raw["metadata"].update(
        uid="30316465-6365-4463-ad63-3564622d3638",
        resourceVersion="1234",
        generation=1,
        creationTimestamp="2024-01-01T00:00:00Z",
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    )
    raw["status"] = {}
    # Server-owned fields of the k8s object mean nothing in our datastore.
    assert network_policy_to_calico(raw)["metadata"] == {
        "name": "knp.default.test.policy",
        "namespace": "default",
    }
