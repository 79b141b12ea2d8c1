"""Property tests for the selector language.

Random syntax trees are drawn from the grammar, spelled out as text in
random (non-canonical) ways, and checked against a plain recursive reference
evaluator written here, independent of the compiled evaluator.
"""

from __future__ import annotations

from typing import assert_never

from hypothesis import given, settings
from hypothesis import strategies as st

from calico.errors import SelectorError
from calico.selector import (
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
    Selector,
    and_,
    or_,
    parse,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)

# Few labels and values, so that random label maps often match.
LABELS = ["a", "b", "c", "x/y", "pcns.env"]
VALUES = ["", "v", "w", "vw", "'", '"', "a'b", 'say "hi"', "\u00e9"]

labels = st.sampled_from(LABELS)
values = st.sampled_from(VALUES)
value_sets = st.frozensets(values, max_size=3)

leaves: st.SearchStrategy[Node] = st.one_of(
    st.just(All()),
    st.just(Global()),
    st.builds(Has, labels),
    st.builds(LabelEq, labels, values),
    st.builds(LabelNe, labels, values),
    st.builds(LabelContains, labels, values),
    st.builds(LabelStartsWith, labels, values),
    st.builds(LabelEndsWith, labels, values),
    st.builds(LabelIn, labels, value_sets),
    st.builds(LabelNotIn, labels, value_sets),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    operands = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, operands), st.builds(Or, operands))


trees: st.SearchStrategy[Node] = st.recursive(leaves, _extend, max_leaves=12)
label_maps = st.dictionaries(labels, st.sampled_from([*VALUES, "xvwx", "vv"]), max_size=5)


def reference_evaluate(node: Node, labels: dict[str, str]) -> bool:
    """REFERENCE 3.3, one rule per line."""
    match node:
        case All() | Global():
            return True
        case Has(label):
            return label in labels
        case LabelEq(label, value):
            return label in labels and labels[label] == value
        case LabelNe(label, value):
            return label not in labels or labels[label] != value
        case LabelContains(label, value):
            return label in labels and value in labels[label]
        case LabelStartsWith(label, value):
            return label in labels and labels[label].startswith(value)
        case LabelEndsWith(label, value):
            return label in labels and labels[label].endswith(value)
        case LabelIn(label, options):
            return label in labels and labels[label] in options
        case LabelNotIn(label, options):
            return label not in labels or labels[label] not in options
        case Not(operand):
            return not reference_evaluate(operand, labels)
        case And(operands):
            return all(reference_evaluate(op, labels) for op in operands)
        case Or(operands):
            return any(reference_evaluate(op, labels) for op in operands)
        case _:
            assert_never(node)


# --- spelling a tree as text, in any of the ways the grammar allows -----------------

_OPERATOR_SPELLINGS: dict[type, list[str]] = {
    LabelEq: ["=="],
    LabelNe: ["!="],
    LabelContains: ["contains"],
    LabelStartsWith: ["starts with", "startswith", "starts \t with"],
    LabelEndsWith: ["ends with", "endswith", "ends  with"],
    LabelIn: ["in"],
    LabelNotIn: ["not in", "notin", "not\tin"],
}


def _spell_string(draw: st.DrawFn, value: str) -> str:
    quotes = [q for q in "\"'" if q not in value]
    quote = draw(st.sampled_from(quotes))
    return f"{quote}{value}{quote}"


@st.composite
def spellings(draw: st.DrawFn, node: Node) -> str:
    """Some text that parses to node (modulo double negations and parentheses)."""
    ws = draw(st.sampled_from(["", " ", "\t", "  "]))
    text = _spell(draw, node)
    if draw(st.booleans()):
        text = f"({ws}{text}{ws})"
    return f"{ws}{text}{ws}"


def _spell(draw: st.DrawFn, node: Node) -> str:
    gap = draw(st.sampled_from(["", " ", "\t"]))
    space = draw(st.sampled_from([" ", "  ", "\t"]))  # where a word boundary is needed
    match node:
        case All():
            return draw(st.sampled_from(["all()", "all( )", "all(\t)"]))
        case Global():
            return draw(st.sampled_from(["global()", "global( )"]))
        case Has(label):
            return f"has({gap}{label}{gap})"
        case LabelEq() | LabelNe() | LabelContains() | LabelStartsWith() | LabelEndsWith():
            operator = draw(st.sampled_from(_OPERATOR_SPELLINGS[type(node)]))
            if operator in ("==", "!="):
                return f"{node.label}{gap}{operator}{gap}{_spell_string(draw, node.value)}"
            return f"{node.label}{space}{operator}{gap}{_spell_string(draw, node.value)}"
        case LabelIn() | LabelNotIn():
            operator = draw(st.sampled_from(_OPERATOR_SPELLINGS[type(node)]))
            items = draw(st.permutations(sorted(node.values)))
            if items:  # duplicates are allowed, and dropped
                items += draw(st.lists(st.sampled_from(items), max_size=2))
            body = f",{gap}".join(_spell_string(draw, v) for v in items)
            trailing_comma = draw(st.booleans())  # Calico accepts one
            if items and trailing_comma:
                body += ","
            return f"{node.label}{space}{operator}{gap}{{{gap}{body}{gap}}}"
        case Not(operand):
            bangs = draw(st.sampled_from(["!", "! ", "!!!", "! ! !"]))
            inner = _spell(draw, operand)
            if isinstance(operand, And | Or) or draw(st.booleans()):
                inner = f"({inner})"
            return bangs + inner
        case And(operands) | Or(operands):
            joiner = f"{gap}&&{gap}" if isinstance(node, And) else f"{gap}||{gap}"
            parts = []
            for operand in operands:
                part = _spell(draw, operand)
                # Nested junctions keep their parentheses: without them the
                # parser would flatten a && (b && c) into one And.
                if isinstance(operand, And | Or) or draw(st.booleans()):
                    part = f"({gap}{part}{gap})"
                parts.append(part)
            return joiner.join(parts)
        case _:
            assert_never(node)


# --- the properties ------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(trees)
def test_canonical_form_is_a_fixed_point(tree: Node) -> None:
    selector = Selector(tree)
    reparsed = parse(str(selector))
    assert reparsed == selector
    assert str(reparsed) == str(selector)
    assert str(parse(str(reparsed))) == str(selector)
    assert reparsed.unique_id == selector.unique_id


@PROPERTY_SETTINGS
@given(trees, st.lists(label_maps, min_size=1, max_size=5))
def test_evaluation_survives_canonicalisation(tree: Node, maps: list[dict[str, str]]) -> None:
    selector = Selector(tree)
    canonical = parse(str(selector))
    for labels in maps:
        expected = reference_evaluate(tree, labels)
        assert selector.evaluate(labels) is expected
        assert canonical.evaluate(labels) is expected


@PROPERTY_SETTINGS
@given(st.data(), trees, label_maps)
def test_any_spelling_parses_to_the_same_selector(
    data: st.DataObject, tree: Node, labels: dict[str, str]
) -> None:
    text = data.draw(spellings(tree), label="text")
    selector = parse(text)
    assert selector == Selector(tree)
    assert selector.evaluate(labels) is reference_evaluate(tree, labels)


_SELECTOR_ALPHABET = st.sampled_from(
    [*"ab.-/_=!&|(){},'\" \t\n%", "in", "not", "has(", "all(", "global(", "with", "starts"]
)


@PROPERTY_SETTINGS
@given(st.one_of(st.text(), st.lists(_SELECTOR_ALPHABET, max_size=30).map("".join)))
def test_parse_returns_a_selector_or_raises_selector_error(text: str) -> None:
    error: SelectorError | None = None
    try:
        selector = parse(text)
    except SelectorError as exc:  # anything else escapes and fails the test
        error = exc
    if error is not None:
        assert error.selector == text
        assert error.position is not None
        assert 0 <= error.position <= len(text)
    else:
        assert str(parse(str(selector))) == str(selector)
        assert selector.unique_id.startswith("s:")


@PROPERTY_SETTINGS
@given(trees, label_maps)
def test_label_restrictions_are_sound(tree: Node, labels: dict[str, str]) -> None:
    selector = Selector(tree)
    if not selector.evaluate(labels):
        return
    for label, restriction in selector.label_restrictions().items():
        assert restriction.possible_to_satisfy
        if restriction.must_be_present:
            assert label in labels
        if restriction.must_be_absent:
            assert label not in labels
        if restriction.must_have_one_of_values is not None:
            assert labels[label] in restriction.must_have_one_of_values


@PROPERTY_SETTINGS
@given(trees, label_maps)
def test_prefix_labels_reads_prefixed_keys(tree: Node, labels: dict[str, str]) -> None:
    selector = Selector(tree)
    prefixed = selector.prefix_labels("pcns.")
    prefixed_labels = {f"pcns.{key}": value for key, value in labels.items()}
    assert prefixed.evaluate(prefixed_labels) is selector.evaluate(labels)
    assert prefixed.labels_used() == {f"pcns.{key}" for key in selector.labels_used()}


@PROPERTY_SETTINGS
@given(trees, label_maps, st.sampled_from(VALUES))
def test_only_used_labels_matter(tree: Node, labels: dict[str, str], value: str) -> None:
    selector = Selector(tree)
    unused = {key: v for key, v in labels.items() if key not in selector.labels_used()}
    used = {key: v for key, v in labels.items() if key in selector.labels_used()}
    assert selector.evaluate(used) is selector.evaluate(labels)
    assert selector.evaluate({**labels, "never-used": value}) is selector.evaluate(labels)
    assert selector.evaluate(used | unused) is selector.evaluate(labels)


@PROPERTY_SETTINGS
@given(trees, trees, label_maps)
def test_and_or_combine(first: Node, second: Node, labels: dict[str, str]) -> None:
    a, b = Selector(first), Selector(second)
    assert and_(a, b).evaluate(labels) is (a.evaluate(labels) and b.evaluate(labels))
    assert or_(a, b).evaluate(labels) is (a.evaluate(labels) or b.evaluate(labels))
    assert parse(str(and_(a, b))) == and_(a, b)
