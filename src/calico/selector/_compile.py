"""Compile a selector tree into one Python function of the label map.

Evaluation is the calc graph's hot path (every selector against every
endpoint whose labels change), so instead of walking the tree, or calling a
closure per node, we generate the source of a single boolean expression and
compile it once, the way dataclasses and attrs generate their methods:

    a == "b" && c in {"x", "y"} && !has(d)
    -> def evaluate(L):
           return ((L.get(_c0) == _c1) and (L.get(_c2) in _c3) and (not (_c4 in L)))

That is one Python call per evaluation instead of one per node: measured
about 2x faster than nested closures.  Safety: no selector text ever reaches
the generated source.  Labels, values and sets are passed in as named
constants (``_c0``...), so the source holds only names we made up, keywords
and operators, and the function runs with no builtins at all.

Evaluation semantics (REFERENCE 3.3) fall out of ``L.get``: a missing label
is None, which equals no value and is in no set.  So ``!=`` and ``not in``
are true for an absent label, ``==`` and ``in`` false.  ``contains`` /
``starts with`` / ``ends with`` check presence first.

Python's parser allows only 200 nested parentheses, so a subtree deeper than
_MAX_DEPTH is compiled as a function of its own and called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import assert_never, cast

from calico.selector._ast import (
    All,
    And,
    Global,
    Has,
    LabelContains,
    LabelEndsWith,
    LabelEq,
    LabelIn,
    LabelNe,
    LabelNotIn,
    LabelStartsWith,
    Node,
    Not,
    Or,
)

Evaluator = Callable[[Mapping[str, str]], bool]

_MAX_DEPTH = 40


def compile_tree(root: Node) -> Evaluator:
    """A function labels -> bool equivalent to evaluating the tree."""
    return _Compiler().function(root)


class _Compiler:
    def __init__(self) -> None:
        # The generated functions' globals: the constants, and no builtins.
        self._namespace: dict[str, object] = {"__builtins__": {}}
        self._count = 0

    def function(self, node: Node) -> Evaluator:
        source = f"def evaluate(L):\n    return {self._expression(node, 0)}\n"
        exec(compile(source, "<selector>", "exec"), self._namespace)
        return cast(Evaluator, self._namespace.pop("evaluate"))

    def _constant(self, value: object) -> str:
        name = f"_c{self._count}"
        self._count += 1
        self._namespace[name] = value
        return name

    def _expression(self, node: Node, depth: int) -> str:
        if depth > _MAX_DEPTH:
            return f"{self._constant(self.function(node))}(L)"
        return self._node_expression(node, depth)

    def _node_expression(self, node: Node, depth: int) -> str:
        match node:
            case All() | Global():
                return "True"
            case Has(label):
                return f"({self._constant(label)} in L)"
            case LabelEq(label, value):
                return f"(L.get({self._constant(label)}) == {self._constant(value)})"
            case LabelNe(label, value):
                return f"(L.get({self._constant(label)}) != {self._constant(value)})"
            case LabelIn(label, values):
                return f"(L.get({self._constant(label)}) in {self._constant(values)})"
            case LabelNotIn(label, values):
                return f"(L.get({self._constant(label)}) not in {self._constant(values)})"
            case LabelContains(label, value):
                key = self._constant(label)
                return f"({key} in L and {self._constant(value)} in L[{key}])"
            case LabelStartsWith(label, value):
                key = self._constant(label)
                return f"({key} in L and L[{key}].startswith({self._constant(value)}))"
            case LabelEndsWith(label, value):
                key = self._constant(label)
                return f"({key} in L and L[{key}].endswith({self._constant(value)}))"
            case Not(operand):
                return f"(not {self._expression(operand, depth + 1)})"
            case And(operands):
                return self._junction(operands, " and ", depth)
            case Or(operands):
                return self._junction(operands, " or ", depth)
            case _:
                assert_never(node)

    def _junction(self, operands: tuple[Node, ...], operator: str, depth: int) -> str:
        parts = [self._expression(operand, depth + 1) for operand in operands]
        return "(" + operator.join(parts) + ")"
