"""The selector syntax tree: one frozen dataclass per kind of node.

Nodes are plain immutable values (hashable, comparable), so rewrites build new
trees and nothing can change a tree a Selector has already compiled.  Every
node checks its fields on construction, so any tree, however it was built,
has a canonical form that parses back (see _canonical.py): labels must be
spellable label keys and a value may not hold both kinds of quote, since the
language has no escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from calico.errors import SelectorError
from calico.selector._tokenizer import MAX_LABEL_LENGTH, is_valid_label, quote_for_message


def _check_label(label: str) -> None:
    if not is_valid_label(label):
        raise SelectorError(
            f"invalid selector label {quote_for_message(label)}: expected 1 to "
            f"{MAX_LABEL_LENGTH} characters from a-z, A-Z, 0-9, '_', '.', '/', '-'"
        )


def _check_value(value: str) -> None:
    if '"' in value and "'" in value:
        raise SelectorError(
            f"invalid selector value {quote_for_message(value)}: a value cannot "
            "contain both ' and \" (selector strings have no escapes)"
        )


@dataclass(frozen=True, slots=True)
class All:
    """``all()``: matches everything."""


@dataclass(frozen=True, slots=True)
class Global:
    """``global()``: matches everything; in a namespaceSelector it means
    "not in any namespace" once rewritten by replace_all_and_global()."""


@dataclass(frozen=True, slots=True)
class Has:
    """``has(label)``: the label is present, whatever its value."""

    label: str

    def __post_init__(self) -> None:
        _check_label(self.label)


@dataclass(frozen=True, slots=True)
class _LabelValue:
    """Shared shape of the ``label <op> "value"`` nodes."""

    label: str
    value: str

    def __post_init__(self) -> None:
        _check_label(self.label)
        _check_value(self.value)


@dataclass(frozen=True, slots=True)
class LabelEq(_LabelValue):
    """``label == "value"``: present and equal."""


@dataclass(frozen=True, slots=True)
class LabelNe(_LabelValue):
    """``label != "value"``: absent, or present with another value."""


@dataclass(frozen=True, slots=True)
class LabelContains(_LabelValue):
    """``label contains "value"``: present and has value as a substring."""


@dataclass(frozen=True, slots=True)
class LabelStartsWith(_LabelValue):
    """``label starts with "value"``: present and has value as a prefix."""


@dataclass(frozen=True, slots=True)
class LabelEndsWith(_LabelValue):
    """``label ends with "value"``: present and has value as a suffix."""


@dataclass(frozen=True, slots=True)
class _LabelSet:
    """Shared shape of the ``label in {...}`` nodes; the set may be empty."""

    label: str
    values: frozenset[str]

    def __post_init__(self) -> None:
        _check_label(self.label)
        for value in self.values:
            _check_value(value)


@dataclass(frozen=True, slots=True)
class LabelIn(_LabelSet):
    """``label in {"a", "b"}``: present with one of the values."""


@dataclass(frozen=True, slots=True)
class LabelNotIn(_LabelSet):
    """``label not in {"a", "b"}``: absent, or present with none of the values."""


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class _Junction:
    """Shared shape of And / Or: two or more operands, in source order."""

    operands: tuple[Node, ...]

    def __post_init__(self) -> None:
        # A one-operand And would render as "(x)", which parses back as x:
        # the canonical form would not be a fixed point.
        if len(self.operands) < 2:
            raise SelectorError(
                f"{type(self).__name__} needs at least 2 operands, got {len(self.operands)}"
            )


@dataclass(frozen=True, slots=True)
class And(_Junction):
    """``a && b && ...``: every operand matches (short-circuit)."""


@dataclass(frozen=True, slots=True)
class Or(_Junction):
    """``a || b || ...``: some operand matches (short-circuit)."""


Node: TypeAlias = (
    All
    | Global
    | Has
    | LabelEq
    | LabelNe
    | LabelContains
    | LabelStartsWith
    | LabelEndsWith
    | LabelIn
    | LabelNotIn
    | Not
    | And
    | Or
)

LabelNode: TypeAlias = (
    Has | LabelEq | LabelNe | LabelContains | LabelStartsWith | LabelEndsWith | LabelIn | LabelNotIn
)


def negate(node: Node) -> Node:
    """``!node``, cancelling a double negation instead of stacking a second Not.

    Calico's parser collapses ``!!x`` to x but not ``!(!x)``; doing it here
    too means ``!(!x)`` and ``x`` get the same canonical form and unique ID.
    """
    if isinstance(node, Not):
        return node.operand
    return Not(node)
