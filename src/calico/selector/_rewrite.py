"""Tree walks and rewrites: the labels a selector uses, prefixing label keys,
and replacing ``all()`` / ``global()``.

These serve the v3 -> Felix conversion of selectors (REFERENCE 2.16): a
namespaceSelector ``env == "prod"`` becomes ``pcns.env == "prod"`` (Calico's
PrefixVisitor), and in it ``all()`` means "any namespace", i.e.
``has(projectcalico.org/namespace)``, while ``global()`` means "no namespace",
``!has(projectcalico.org/namespace)``.  Calico does the second step by string
replacement on the canonical text, which would also rewrite a quoted value
such as ``a == "all()"``; rewriting the tree does not have that bug.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
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
    LabelNode,
    LabelNotIn,
    LabelStartsWith,
    Node,
    Not,
    Or,
    negate,
)

# A leaf rewrite: gets each leaf (All, Global or a label node), returns its replacement.
LeafRewrite = Callable[[All | Global | LabelNode], Node]


def iter_label_nodes(node: Node) -> Iterator[LabelNode]:
    """Every node that names a label, depth first, in source order."""
    match node:
        case Not(operand):
            yield from iter_label_nodes(operand)
        case And(operands) | Or(operands):
            for operand in operands:
                yield from iter_label_nodes(operand)
        case All() | Global():
            pass
        case _:
            yield node


def labels_used(node: Node) -> frozenset[str]:
    """Every label key the tree refers to."""
    return frozenset(leaf.label for leaf in iter_label_nodes(node))


def rewrite_leaves(node: Node, rewrite: LeafRewrite) -> Node:
    """A copy of the tree with every leaf replaced by rewrite(leaf).

    Negations are rebuilt with negate(), so a leaf replaced by ``!x`` under
    a ``!`` collapses to ``x`` rather than ``!!x``.
    """
    match node:
        case Not(operand):
            return negate(rewrite_leaves(operand, rewrite))
        case And(operands):
            return And(tuple(rewrite_leaves(op, rewrite) for op in operands))
        case Or(operands):
            return Or(tuple(rewrite_leaves(op, rewrite) for op in operands))
        case (
            All()
            | Global()
            | Has()
            | LabelEq()
            | LabelNe()
            | LabelContains()
            | LabelStartsWith()
            | LabelEndsWith()
            | LabelIn()
            | LabelNotIn()
        ):
            return rewrite(node)
        case _:
            assert_never(node)


def prefix_labels(node: Node, prefix: str) -> Node:
    """The tree with every label key k replaced by prefix + k."""

    def add_prefix(leaf: All | Global | LabelNode) -> Node:
        if isinstance(leaf, All | Global):
            return leaf
        # The node re-validates the new label, so a bad prefix fails here.
        return dataclasses.replace(leaf, label=prefix + leaf.label)

    return rewrite_leaves(node, add_prefix)


def replace_all_and_global(
    node: Node, all_replacement: Node | None, global_replacement: Node | None
) -> Node:
    """The tree with ``all()`` and ``global()`` replaced (None: left alone)."""

    def replace(leaf: All | Global | LabelNode) -> Node:
        if isinstance(leaf, All) and all_replacement is not None:
            return all_replacement
        if isinstance(leaf, Global) and global_replacement is not None:
            return global_replacement
        return leaf

    return rewrite_leaves(node, replace)
