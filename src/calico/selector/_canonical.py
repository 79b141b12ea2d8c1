"""Canonical text of a selector tree, and the unique ID derived from it.

The canonical form is Calico's (libcalico-go/lib/selector/parser/ast.go
``collectFragments``), byte for byte, because the unique ID is a hash of it
and names IP sets: two spellings of one selector must share one IP set, and
our IDs should equal real Calico's for the same selector.

* ``label == "v"`` (also ``!=``, ``contains``, ``starts with``, ``ends with``);
  double quotes unless the value contains ``"``, then single quotes.
* ``label in {"a", "b"}``: the set sorted (by code point, which is UTF-8
  byte order, as Go sorts) and de-duplicated.
* ``has(k)``, ``all()``, ``global()``, ``!operand`` with no space.
* And / Or always wrapped in parentheses: ``(a == "b" && c == "d")``.

One deliberate difference: Calico renders ``!(!x)`` as ``!!x``, which parses
back as ``x`` -- not a fixed point.  We render a double negation as its
operand, so every canonical form parses back to itself.
"""

from __future__ import annotations

import base64
import hashlib
from typing import assert_never

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

_VALUE_OPERATORS: dict[type, str] = {
    LabelEq: " == ",
    LabelNe: " != ",
    LabelContains: " contains ",
    LabelStartsWith: " starts with ",
    LabelEndsWith: " ends with ",
}


def render(node: Node) -> str:
    """The canonical text of node."""
    parts: list[str] = []
    _render_into(node, parts)
    return "".join(parts)


def unique_id(canonical: str) -> str:
    """Calico's ``hash.MakeUniqueID("s", canonical)``.

    ``"s:" + base64url-without-padding(SHA-224("s:" + canonical))``.  The
    "surrogatepass" encoding only matters for text holding lone surrogates
    (which Go strings cannot); for every other string it is plain UTF-8.
    """
    content = ("s:" + canonical).encode("utf-8", "surrogatepass")
    digest = hashlib.sha224(content).digest()
    return "s:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def quote_value(value: str) -> str:
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


def _render_into(node: Node, parts: list[str]) -> None:
    match node:
        case All():
            parts.append("all()")
        case Global():
            parts.append("global()")
        case Has(label):
            parts += ("has(", label, ")")
        case LabelEq() | LabelNe() | LabelContains() | LabelStartsWith() | LabelEndsWith():
            parts += (node.label, _VALUE_OPERATORS[type(node)], quote_value(node.value))
        case LabelIn(label, values):
            parts += (label, " in ", _render_set(values))
        case LabelNotIn(label, values):
            parts += (label, " not in ", _render_set(values))
        case Not(Not(inner)):
            _render_into(inner, parts)
        case Not(operand):
            parts.append("!")
            _render_into(operand, parts)
        case And(operands):
            _render_junction(operands, " && ", parts)
        case Or(operands):
            _render_junction(operands, " || ", parts)
        case _:
            assert_never(node)


def _render_set(values: frozenset[str]) -> str:
    return "{" + ", ".join(quote_value(v) for v in sorted(values)) + "}"


def _render_junction(operands: tuple[Node, ...], operator: str, parts: list[str]) -> None:
    parts.append("(")
    for index, operand in enumerate(operands):
        if index:
            parts.append(operator)
        _render_into(operand, parts)
    parts.append(")")
