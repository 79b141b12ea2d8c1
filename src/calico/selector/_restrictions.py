"""Label restrictions: what any label map matching a selector must look like.

A port of Calico's ``LabelRestrictions()`` (libcalico-go/lib/selector/parser/
ast.go).  For each label it gives a lower bound the calc graph can index on:
``a == "x" && has(b)`` needs ``a`` present with value "x" and ``b`` present,
so only endpoints carrying those labels need to be evaluated at all.

The restrictions are sound but not complete: a label missing from the result
may still be constrained (``!(a == "x")`` says nothing, since ``a`` may be
absent or have another value).
"""

from __future__ import annotations

from dataclasses import dataclass

from calico.selector._ast import (
    And,
    Has,
    LabelContains,
    LabelEndsWith,
    LabelEq,
    LabelIn,
    LabelStartsWith,
    Node,
    Not,
    Or,
)


@dataclass(frozen=True, slots=True)
class LabelRestriction:
    """What a matching label map must do with one label.

    ``must_have_one_of_values`` is None when no value restriction is known
    (``has(a)``); an empty set means no value can match
    (``a == "x" && a == "y"``).
    """

    must_be_present: bool = False
    must_be_absent: bool = False
    must_have_one_of_values: frozenset[str] | None = None

    @property
    def possible_to_satisfy(self) -> bool:
        if self.must_be_present and self.must_be_absent:
            return False
        return self.must_have_one_of_values is None or bool(self.must_have_one_of_values)


Restrictions = dict[str, LabelRestriction]

_PRESENT = LabelRestriction(must_be_present=True)


def label_restrictions(node: Node) -> Restrictions:
    """Per-label restrictions implied by the tree (labels without any are left out)."""
    match node:
        case LabelEq(label, value):
            return {label: LabelRestriction(True, False, frozenset((value,)))}
        case LabelIn(label, values):
            return {label: LabelRestriction(True, False, values)}
        case Has(label) | LabelContains(label) | LabelStartsWith(label) | LabelEndsWith(label):
            return {label: _PRESENT}
        case Not(Not(inner)):
            return label_restrictions(inner)
        case Not(Has(label)):
            return {label: LabelRestriction(must_be_absent=True)}
        case And(operands):
            return _intersect([label_restrictions(op) for op in operands])
        case Or(operands):
            return _union([label_restrictions(op) for op in operands])
    # !=, not in, all(), global() and other negations restrict nothing:
    # !(a == "x") does not require a to be absent, nor present.
    return {}


def _intersect(parts: list[Restrictions]) -> Restrictions:
    """Restrictions of an And: every operand's restrictions hold at once."""
    merged: Restrictions = {}
    for part in parts:
        for label, new in part.items():
            old = merged.get(label)
            merged[label] = new if old is None else _both(old, new)
    return merged


def _both(a: LabelRestriction, b: LabelRestriction) -> LabelRestriction:
    values = a.must_have_one_of_values
    if values is None:
        values = b.must_have_one_of_values
    elif b.must_have_one_of_values is not None:
        values = values & b.must_have_one_of_values
    return LabelRestriction(
        a.must_be_present or b.must_be_present, a.must_be_absent or b.must_be_absent, values
    )


def _union(parts: list[Restrictions]) -> Restrictions:
    """Restrictions of an Or: only what every operand requires survives."""
    merged = dict(parts[0])
    for part in parts[1:]:
        for label, old in list(merged.items()):
            either = _either(old, part.get(label, LabelRestriction()))
            if either.must_be_present or either.must_be_absent:
                merged[label] = either
            else:
                del merged[label]
    return merged


def _either(a: LabelRestriction, b: LabelRestriction) -> LabelRestriction:
    present = a.must_be_present and b.must_be_present
    values = None
    # Values are bounded only if both sides bound them (has(a) || a == "x"
    # allows any value of a).
    if present and a.must_have_one_of_values is not None and b.must_have_one_of_values is not None:
        values = a.must_have_one_of_values | b.must_have_one_of_values
    return LabelRestriction(present, a.must_be_absent and b.must_be_absent, values)
