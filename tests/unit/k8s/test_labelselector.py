"""Kubernetes LabelSelector -> Calico selector text: upstream's selector conversion table."""

from __future__ import annotations

from typing import Any

import pytest

from calico.k8s.labelselector import SelectorKind, parse_label_selector, selector_to_calico
from calico.selector import parse

POD, NAMESPACE = SelectorKind.POD, SelectorKind.NAMESPACE
ORCH = "projectcalico.org/orchestrator == 'k8s'"

TABLE: list[tuple[str, Any, SelectorKind, str]] = [
    ("empty pod selector", {}, POD, ORCH),
    ("empty namespace selector", {}, NAMESPACE, "all()"),
    (
        "OpDoesNotExist namespace selector",
        {"matchExpressions": [{"key": "toast", "operator": "DoesNotExist"}]},
        NAMESPACE,
        "! has(toast)",
    ),
    (
        "OpExists namespace selector",
        {"matchExpressions": [{"key": "toast", "operator": "Exists"}]},
        NAMESPACE,
        "has(toast)",
    ),
    (
        "OpIn namespace selector",
        {"matchExpressions": [{"key": "toast", "operator": "In", "values": ["butter", "jam"]}]},
        NAMESPACE,
        "toast in { 'butter', 'jam' }",
    ),
    (
        "OpNotIn namespace selector",
        {
            "matchExpressions": [
                {"key": "toast", "operator": "NotIn", "values": ["marmite", "milk"]}
            ]
        },
        NAMESPACE,
        "toast not in { 'marmite', 'milk' }",
    ),
    (
        "OpDoesNotExist pod selector",
        {"matchExpressions": [{"key": "toast", "operator": "DoesNotExist"}]},
        POD,
        f"{ORCH} && ! has(toast)",
    ),
    ("nil pod selector", None, POD, ORCH),
    ("nil namespace selector", None, NAMESPACE, ""),
    # Beyond upstream's table: labels sorted by key, then expressions in order.
    (
        "matchLabels sorted, then expressions",
        {
            "matchLabels": {"b": "2", "a": "1", "example.com/c": "3"},
            "matchExpressions": [
                {"key": "z", "operator": "Exists"},
                {"key": "y", "operator": "In", "values": ["q"]},
            ],
        },
        POD,
        f"{ORCH} && a == '1' && b == '2' && example.com/c == '3' && has(z) && y in {{ 'q' }}",
    ),
    (
        "empty matchLabels and matchExpressions",
        {"matchLabels": {}, "matchExpressions": []},
        NAMESPACE,
        "all()",
    ),
]


@pytest.mark.parametrize(
    ("raw", "kind", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_selector_conversion(raw: Any, kind: SelectorKind, expected: str) -> None:
    converted = selector_to_calico(parse_label_selector(raw, "sel"), kind)
    assert converted == expected
    parse(converted)  # Calico's selector language accepts it
