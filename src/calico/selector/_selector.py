"""The Selector value: a parsed selector with its canonical form, unique ID
and compiled evaluator; plus parse() and the and_ / or_ combinators."""

from __future__ import annotations

import functools
from typing import Any

from calico.selector import _canonical, _restrictions, _rewrite
from calico.selector._ast import And, Node, Or
from calico.selector._compile import Evaluator, compile_tree
from calico.selector._parser import parse_tree
from calico.selector._restrictions import LabelRestriction

_PARSE_CACHE_SIZE = 16384


class Selector:
    """An immutable, parsed label selector.

    Two selectors are equal (and hash equal) when their canonical forms are,
    however they were spelled: ``parse("a=='b'") == parse('a == "b"')``.
    Build one with parse(), or ``Selector(tree)`` from AST nodes.
    """

    _root: Node
    _text: str

    def __init__(self, root: Node) -> None:
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_text", _canonical.render(root))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Selector is immutable; cannot set {name!r}")

    @property
    def root(self) -> Node:
        """The syntax tree (frozen dataclasses; see the package's exports)."""
        return self._root

    # The evaluator is compiled on first use: many selectors (validation,
    # calicoctl) are parsed only to be checked or printed.  cached_property
    # stores the function in the instance dict, so later ``sel.evaluate``
    # lookups find it directly and ``sel.evaluate(labels)`` is one call of
    # the generated function.
    @functools.cached_property
    def evaluate(self) -> Evaluator:
        """``evaluate(labels: Mapping[str, str]) -> bool``: does the selector match?"""
        return compile_tree(self._root)

    @functools.cached_property
    def unique_id(self) -> str:
        """Calico's ID for this selector: ``"s:" + base64url(SHA-224("s:" + str(self)))``."""
        return _canonical.unique_id(self._text)

    @functools.cached_property
    def _label_restrictions(self) -> _restrictions.Restrictions:
        return _restrictions.label_restrictions(self._root)

    def label_restrictions(self) -> dict[str, LabelRestriction]:
        """For each label the selector constrains, what a match needs of it.

        Labels with no restriction are absent from the result.  A fresh dict
        each call; the LabelRestriction values are immutable.
        """
        return dict(self._label_restrictions)

    def labels_used(self) -> frozenset[str]:
        """Every label key the selector refers to."""
        return _rewrite.labels_used(self._root)

    def prefix_labels(self, prefix: str) -> Selector:
        """This selector with every label key k read as prefix + k
        (``env == "x"`` with prefix ``pcns.`` -> ``pcns.env == "x"``)."""
        return Selector(_rewrite.prefix_labels(self._root, prefix))

    def replace_all_and_global(
        self, all_replacement: Selector | None, global_replacement: Selector | None
    ) -> Selector:
        """This selector with each ``all()`` / ``global()`` replaced by the given
        selector (None leaves it as it is)."""
        return Selector(
            _rewrite.replace_all_and_global(
                self._root,
                all_replacement.root if all_replacement is not None else None,
                global_replacement.root if global_replacement is not None else None,
            )
        )

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Selector({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> tuple[Any, ...]:
        # The compiled evaluator cannot be pickled; the canonical text can.
        return (parse, (self._text,))


def parse(text: str) -> Selector:
    """Parse selector text; raise SelectorError (naming what was expected and
    where) if it is not valid.  Empty or blank text is ``all()``.

    Results are cached by text: the calc graph parses the same strings over
    and over, and a cached Selector keeps its compiled evaluator.
    """
    return _parse_cached(text)


@functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_cached(text: str) -> Selector:
    return Selector(parse_tree(text))


def and_(first: Selector, *rest: Selector) -> Selector:
    """A selector matching what all the given ones match.

    Built exactly as Calico builds ``(s1) && (s2)`` by parsing (no flattening
    of nested Ands), so the canonical form and unique ID agree with Calico's.
    """
    if not rest:
        return first
    return Selector(And((first.root, *(s.root for s in rest))))


def or_(first: Selector, *rest: Selector) -> Selector:
    """A selector matching what any of the given ones match (``(s1) || (s2)``)."""
    if not rest:
        return first
    return Selector(Or((first.root, *(s.root for s in rest))))
