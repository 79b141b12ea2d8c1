"""Kubernetes LabelSelector -> Calico selector text.

Source: libcalico-go ``lib/backend/k8s/conversion/conversion.go``
(``k8sSelectorToCalico``) and its test table; the output text is Calico's,
character for character, because it is what ``calicoctl get -o yaml`` shows:

* a pod selector always starts with ``projectcalico.org/orchestrator == 'k8s'``
  so that it never matches host endpoints or non-Kubernetes workloads;
* ``matchLabels`` become ``k == 'v'`` sorted by key, then each of
  ``matchExpressions`` in order: ``k in { 'a', 'b' }``, ``k not in { ... }``,
  ``has(k)``, ``! has(k)``; all joined by ``&&``;
* for a namespace selector, unset means "the policy's own namespace" (empty
  text) while present-but-empty means "every namespace" (``all()``).  The
  ``pcns.`` prefix that makes namespace labels match is added later, by the
  v3 -> Felix conversion (REFERENCE 2.16), not here.

Parsing validates the selector the way the API server does
(``ValidateLabelSelector``), so bad input fails with its field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from calico.k8s import _names
from calico.k8s._raw import fail, join, mapping, only_fields, sequence, string, string_map
from calico.k8s.constants import ORCHESTRATOR_K8S, ORCHESTRATOR_LABEL

_SET_OPERATORS = ("In", "NotIn")
_EXISTENCE_OPERATORS = ("Exists", "DoesNotExist")


class SelectorKind(Enum):
    """Which k8s selector is being converted: the rules for empty ones differ."""

    POD = "pod"
    NAMESPACE = "namespace"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One of ``matchExpressions``: ``key <operator> values``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed, validated Kubernetes label selector."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


def parse_label_selector(raw: object, path: str) -> LabelSelector | None:
    """The selector at ``path``; None when unset (null or absent)."""
    if raw is None:
        return None
    obj = mapping(raw, path)
    only_fields(obj, ("matchLabels", "matchExpressions"), path)
    labels_path = join(path, "matchLabels")
    labels = string_map(obj.get("matchLabels"), labels_path)
    _names.labels(labels, labels_path)
    expressions_path = join(path, "matchExpressions")
    expressions = tuple(
        _requirement(item, join(expressions_path, index))
        for index, item in enumerate(sequence(obj.get("matchExpressions"), expressions_path))
    )
    return LabelSelector(tuple(sorted(labels.items())), expressions)


def _requirement(raw: object, path: str) -> Requirement:
    obj = mapping(raw, path)
    only_fields(obj, ("key", "operator", "values"), path)
    key = string(obj.get("key"), join(path, "key"))
    _names.label_key(key, join(path, "key"))
    operator = string(obj.get("operator"), join(path, "operator"))
    values_path = join(path, "values")
    values = tuple(
        string(value, join(values_path, index))
        for index, value in enumerate(sequence(obj.get("values"), values_path))
    )
    if operator in _SET_OPERATORS:
        if not values:
            fail(f"must be specified when operator is {operator}", values_path)
        for index, value in enumerate(values):
            _names.label_value(value, join(values_path, index))
    elif operator in _EXISTENCE_OPERATORS:
        if values:
            fail(f"may not be specified when operator is {operator}", values_path, list(values))
    else:
        fail(
            "must be one of In, NotIn, Exists, DoesNotExist",
            join(path, "operator"),
            operator,
        )
    return Requirement(key, operator, values)


def selector_to_calico(selector: LabelSelector | None, kind: SelectorKind) -> str:
    """Calico's selector text for a pod or namespace selector (None = unset)."""
    terms: list[str] = []
    if kind is SelectorKind.POD:
        terms.append(f"{ORCHESTRATOR_LABEL} == '{ORCHESTRATOR_K8S}'")
    if selector is None:
        return " && ".join(terms)
    if kind is SelectorKind.NAMESPACE and selector.empty:
        # Present but empty selects every namespace; unset (above) selects
        # only the policy's own, so the two must not both become "".
        return "all()"
    terms.extend(f"{key} == '{value}'" for key, value in selector.match_labels)
    terms.extend(_expression(req) for req in selector.match_expressions)
    return " && ".join(terms)


def _expression(req: Requirement) -> str:
    values = "', '".join(req.values)
    if req.operator == "In":
        return f"{req.key} in {{ '{values}' }}"
    if req.operator == "NotIn":
        return f"{req.key} not in {{ '{values}' }}"
    if req.operator == "Exists":
        return f"has({req.key})"
    return f"! has({req.key})"
