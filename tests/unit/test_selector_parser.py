"""Selector parser, evaluation, canonical form, rewrites and label restrictions.

The tables are ported from libcalico-go/lib/selector/parser/parser_test.go
(selectorTests, badSelectors, canonicalisationTests, the Visitor table) and
label_restriction_test.go.
"""

from __future__ import annotations

import copy
import pickle

import pytest

from calico.errors import SelectorError, ValidationError
from calico.selector import (
    MAX_NESTING,
    All,
    And,
    Global,
    Has,
    LabelEq,
    LabelIn,
    LabelNe,
    LabelNotIn,
    LabelRestriction,
    LabelStartsWith,
    Not,
    Or,
    Selector,
    and_,
    is_valid_label,
    or_,
    parse,
)

Labels = dict[str, str]

# (selector, label maps that must match, label maps that must not match)
SELECTOR_TESTS: list[tuple[str, list[Labels], list[Labels]]] = [
    ('a == "b"', [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"c": "d"}]),
    (
        'a == "b" && c == "d"',
        [{"a": "b", "c": "d"}],
        [{}, {"a": "b", "c": "e"}, {"a": "c", "c": "d"}, {"c": "d"}, {"a": "b"}],
    ),
    (
        'a == "b" || c == "d"',
        [{"a": "b", "c": "d"}, {"a": "b"}, {"c": "d"}],
        [{}, {"a": "e", "c": "e"}, {"c": "e"}, {"a": "e"}],
    ),
    ('a in {"\'", \'"\', "c"}', [{"a": "c"}, {"a": '"'}, {"a": "'"}], [{}, {"a": "e"}]),
    ('a not in {"\'", \'"\', "c"}', [{}, {"a": "e"}], [{"a": "c"}, {"a": '"'}, {"a": "'"}]),
    ("a == 'a'", [{"a": "a"}], []),
    ('a == "a"', [{"a": "a"}], []),
    ('a != "b"', [{"a": "a"}], []),
    ('a != "a"', [{}], []),
    (
        'a contains "a"',
        [{"a": "a"}, {"a": "bab"}, {"a": "aaa", "b": "c"}],
        [{}, {"a": "b"}, {"b": "aaa"}],
    ),
    (
        'a starts with "a"',
        [{"a": "a"}, {"a": "abb"}, {"a": "aaa", "b": "c"}],
        [{}, {"a": "b"}, {"a": "baa"}, {"b": "aaa"}],
    ),
    (
        'a ends with "a"',
        [{"a": "a"}, {"a": "bba"}, {"a": "aaa", "b": "c"}],
        [{}, {"a": "b"}, {"a": "aab"}, {"b": "aaa"}],
    ),
    ('a in {"a"}', [{"a": "a"}], []),
    ('!a in {"a"}', [{"a": "b"}], []),
    ('a in {"a", "b"}', [{"a": "a"}], []),
    ('a in {"a", "b"}', [{"a": "b"}], []),
    ('a not in {"d", "e"}', [{"a": "a"}], []),
    ("has(a)", [{"a": "b"}], []),
    ("!has(a)", [{"b": "b"}], []),
    ("", [{}], []),
    (" ", [{}], []),
    ("", [{"a": "b"}], []),
    ("all()", [{}], []),
    (" all()", [{}], []),
    (" all()", [{"a": "b"}], []),
    ("global()", [{}], []),
    (" global()", [{}], []),
    (" global()", [{"a": "b"}], []),
    ("a == 'a'", [], [{"a": "b"}]),
    ("a == 'a'", [], [{}]),
    ('a != "a"', [], [{"a": "a"}]),
    ("a != 'a'", [], [{"a": "a"}]),
    ('a in {"a"}', [], [{"a": "b"}]),
    ('a not in {"a"}', [], [{"a": "a"}]),
    ('a in {"a", "b"}', [], [{"a": "c"}]),
    ("has(b)", [], [{"a": "b"}]),
    ("!!has(b)", [], [{"a": "b"}]),
    ("! has(a)", [], [{"a": "b"}]),
    ("!has(a)", [], [{"a": "b"}]),
    ("!!! has(a)", [], [{"a": "b"}]),
    ("!!!has(a)", [], [{"a": "b"}]),
    ("!! ! has(a)", [], [{"a": "b"}]),
    ("! !!has(a)", [], [{"a": "b"}]),
    # Boolean expressions...
    ("a == 'a1' && b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && !b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("!a == 'a1' && b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("has(a) && !has(b)", [{"a": "a"}], []),
    ("!has(b) && has(a)", [{"a": "a"}], []),
    ("!(!has(a) || has(b))", [{"a": "a"}], []),
    ("!(has(b) || !has(a))", [{"a": "a"}], []),
    ("a == 'a1' || b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' || b != 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("! a == 'a1' || ! b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    # Beyond the upstream table: REFERENCE 3.2 / 3.3 edge cases.
    ('has(a) && a == ""', [{"a": ""}], [{}, {"a": "x"}]),
    ('a contains ""', [{"a": ""}, {"a": "x"}], [{}]),
    ('a starts with ""', [{"a": ""}], [{}]),
    ('a ends with ""', [{"a": "x"}], [{}]),
    ("a in {}", [], [{}, {"a": ""}, {"a": "x"}]),
    ("a not in {}", [{}, {"a": ""}, {"a": "x"}], []),
    ("a in {'x',}", [{"a": "x"}], [{"a": ""}]),  # Calico accepts a trailing comma
    ("a == 'X'", [{"a": "X"}], [{"a": "x"}]),  # case-sensitive
    ("a startswith 'pre' && b endswith 'fix'", [{"a": "prefix", "b": "suffix"}], [{"a": "p"}]),
    ("a notin {'x'}", [{"a": "y"}], [{"a": "x"}]),
    ("a == 'x' && b == 'y' || c == 'z'", [{"c": "z"}, {"a": "x", "b": "y"}], [{"a": "x"}]),
    ("a == 'x' && (b == 'y' || c == 'z')", [{"a": "x", "c": "z"}], [{"c": "z"}]),
    ("!(a == 'x' && b == 'y')", [{}, {"a": "x"}], [{"a": "x", "b": "y"}]),
    ("!(!has(a))", [{"a": ""}], [{}]),
    ("!all()", [], [{}, {"a": "b"}]),
    ("projectcalico.org/namespace == 'ns'", [{"projectcalico.org/namespace": "ns"}], [{}]),
    ("a == '\u00e9t\u00e9'", [{"a": "\u00e9t\u00e9"}], [{"a": "ete"}]),
]

# Ported from parser_test.go badSelectors, then our additions.
BAD_SELECTORS = [
    "b == b",
    "b contains b",
    "b starts with b",
    "b ends with b",
    "'b1' == b",
    "b",
    "a b",
    "!",
    'foo == "bar" &',
    'foo == "bar" |',
    "foo != ||",
    'foo in {"", ||',
    'foo in ""',
    '"FOO',
    "\"FOO'",
    "'FOO",
    "(",
    '(a == "foo"',
    ")",
    "()",
    "%",
    'a == "b" && %',
    'a == "b" || %',
    "a ",
    "has(foo) &&",
    # Beyond the upstream table.
    "a == 'b' c == 'd'",
    "a == 'b')",
    "a in {'a' 'b'}",
    "a in {,}",
    "a in {'a',,}",
    "a in 'x'",
    "a in {'x'",
    "has(a) == 'b'",
    "all() all()",
    "a == 'b' &&& c == 'd'",
    "a == 'b' ||| c == 'd'",
    "a == 'b' !",
    "a == 'b'\n",
    "a\t=='b'\r",
]

# (input, canonical form, unique ID or "" when upstream gives none)
CANONICALISATION_TESTS = [
    ("", "all()", "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"),
    (" all() ", "all()", "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"),
    (" (all() )", "all()", "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"),
    ("! (has( b)||! has(a ))", "!(has(b) || !has(a))", "s:Iss0uCleLYv1GSv_pNm7hAO58kE9jAx1NKyG3Q"),
    (
        '! (a == "b"&&! c != "d")',
        '!(a == "b" && !c != "d")',
        "s:lh3haoY1ikTRkd4UZu0nWSaIBknYLPJLX16d-w",
    ),
    ('a == "\'"', 'a == "\'"', ""),
    ("a == '\"'", "a == '\"'", ""),
    ("a contains '\"'", "a contains '\"'", ""),
    ('a contains "\'"', 'a contains "\'"', ""),
    ("a startswith '\"'", "a starts with '\"'", ""),
    ('a endswith "\'"', 'a ends with "\'"', ""),
    ("a!='\"'", "a != '\"'", ""),
    ('a in {"d"}', 'a in {"d"}', ""),
    ('a in {"a", "b"}', 'a in {"a", "b"}', ""),
    ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}', ""),
    ('a in {"z", "x", "y", "a"}', 'a in {"a", "x", "y", "z"}', ""),
    ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}', ""),
    # Beyond the upstream table.
    ("a in {}", "a in {}", ""),
    ("a notin{'y','x'}", 'a not in {"x", "y"}', ""),
    ("a in {\"'\", '\"'}", "a in {'\"', \"'\"}", ""),  # '"' < "'"
    ("global( )", "global()", ""),
    ("!!!has(a)", "!has(a)", ""),
    ("!(!has(a))", "has(a)", ""),
    ("((a == 'b'))", 'a == "b"', ""),
    ("a=='1'&&b=='2'&&c=='3'", '(a == "1" && b == "2" && c == "3")', ""),
    ("(a=='1'&&b=='2')&&c=='3'", '((a == "1" && b == "2") && c == "3")', ""),
    ("a=='1'||b=='2'&&c=='3'", '(a == "1" || (b == "2" && c == "3"))', ""),
    ("!(a=='1'||b=='2')", '!(a == "1" || b == "2")', ""),
    ("a in {'z', 'Z', '\u00e9', 'a'}", 'a in {"Z", "a", "z", "\u00e9"}', ""),  # byte order
]


@pytest.mark.parametrize(("text", "matches", "non_matches"), SELECTOR_TESTS)
def test_evaluate(text: str, matches: list[Labels], non_matches: list[Labels]) -> None:
    selector = parse(text)
    for labels in matches:
        assert selector.evaluate(labels) is True, labels
    for labels in non_matches:
        assert selector.evaluate(labels) is False, labels


@pytest.mark.parametrize(("text", "matches", "non_matches"), SELECTOR_TESTS)
def test_evaluate_after_canonicalising(
    text: str, matches: list[Labels], non_matches: list[Labels]
) -> None:
    canonical = parse(str(parse(text)))
    assert all(canonical.evaluate(labels) for labels in matches)
    assert not any(canonical.evaluate(labels) for labels in non_matches)


@pytest.mark.parametrize("text", BAD_SELECTORS)
def test_rejects_bad_selector(text: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse(text)
    assert caught.value.selector == text
    assert caught.value.position is not None
    assert str(caught.value).startswith("invalid selector ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "canonical", "uid"), CANONICALISATION_TESTS)
def test_canonical_form_round_trips(text: str, canonical: str, uid: str) -> None:
    selector = parse(text)
    assert str(selector) == canonical
    round_tripped = parse(canonical)
    assert str(round_tripped) == canonical
    assert round_tripped.unique_id == selector.unique_id
    assert round_tripped == selector
    if uid:
        assert selector.unique_id == uid


def test_unique_id_shape() -> None:
    uid = parse("a == 'b'").unique_id
    assert uid.startswith("s:")
    assert len(uid) == 2 + 38  # 28 bytes of SHA-224, base64 without padding
    assert "=" not in uid


# --- error messages: what was expected, and where ----------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a ==", "invalid selector \"a ==\": expected a quoted string after '==' at position 4"),
        ("a", 'invalid selector "a": expected an operator after label "a" at position 1'),
        (
            "'b1' == b",
            "invalid selector \"'b1' == b\": expected a label, has(), all(), global(), '!' or "
            "'(', found string \"b1\" at position 0",
        ),
        (
            "(a == 'x'",
            "invalid selector \"(a == 'x'\": expected ')' to close the '(' at position 0, "
            "found the end of the selector at position 9",
        ),
        (
            "a == 'x' b",
            "invalid selector \"a == 'x' b\": expected '&&', '||' or the end, "
            'found label "b" at position 9',
        ),
        ("a in 'x'", "invalid selector \"a in 'x'\": expected '{' after 'in' at position 5"),
        (
            "a in {'x' 'y'}",
            "invalid selector \"a in {'x' 'y'}\": expected ',' or '}' in the set, "
            'found string "y" at position 10',
        ),
        (
            "a not in {,}",
            "invalid selector \"a not in {,}\": expected a quoted string or '}' in the set, "
            "found ',' at position 10",
        ),
        (
            "has(a) &&",
            "invalid selector \"has(a) &&\": expected a label, has(), all(), global(), '!' or "
            "'(', found the end of the selector at position 9",
        ),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_selector_error_is_a_validation_value_error() -> None:
    with pytest.raises(ValueError, match="invalid selector"):
        parse("a ==")
    assert issubclass(SelectorError, ValidationError)


def test_nesting_limit() -> None:
    deep_ok = "(" * MAX_NESTING + "a == 'b'" + ")" * MAX_NESTING
    assert str(parse(deep_ok)) == 'a == "b"'
    too_deep = "(" * (MAX_NESTING + 1) + "a == 'b'" + ")" * (MAX_NESTING + 1)
    with pytest.raises(SelectorError, match=f"nested more than {MAX_NESTING} deep"):
        parse(too_deep)
    with pytest.raises(SelectorError):
        parse("(" * 100_000)


def test_deep_but_allowed_selector_evaluates() -> None:
    # Every level opens two parentheses and adds a Not, an Or and an And: far
    # deeper than the compiler's per-function expression depth, so this
    # exercises the sub-function split.
    levels = MAX_NESTING // 2
    text = "has(x)"
    for level in range(levels):
        text = f"!(l{level} == 'v' || (has(y) && {text}))"
    selector = parse(text)
    assert parse(str(selector)) == selector
    assert selector.evaluate({}) is True  # every "!(... || ...)" of nothing
    assert selector.evaluate({"y": "", "x": ""}) is (levels % 2 == 0)


def test_long_not_chain_collapses() -> None:
    assert str(parse("!" * 10_001 + "has(a)")) == "!has(a)"
    assert str(parse("!" * 10_000 + "has(a)")) == "has(a)"


# --- the Selector value -------------------------------------------------------------


def test_parse_is_cached() -> None:
    assert parse("cached == 'yes'") is parse("cached == 'yes'")


def test_equality_and_hash_follow_the_canonical_form() -> None:
    a, b = parse("a=='x'&&has(b)"), parse('a == "x"  &&  has( b )')
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, parse("has(b) && a == 'x'")}) == 2
    assert a != '(a == "x" && has(b))'


def test_selector_is_immutable() -> None:
    selector = parse("a == 'b'")
    with pytest.raises(AttributeError):
        selector.root = All()  # type: ignore[misc]


def test_pickle_and_copy_round_trip() -> None:
    selector = parse("a in {'x', 'y'} && !has(b)")
    for clone in (pickle.loads(pickle.dumps(selector)), copy.deepcopy(selector)):
        assert clone == selector
        assert clone.evaluate({"a": "x"}) is True


def test_root_is_the_syntax_tree() -> None:
    selector = parse("a == 'x' && !(has(b) || c not in {'p', 'q'}) && d startswith 'z'")
    assert selector.root == And(
        (
            LabelEq("a", "x"),
            Not(Or((Has("b"), LabelNotIn("c", frozenset({"p", "q"}))))),
            LabelStartsWith("d", "z"),
        )
    )


def test_selector_from_tree() -> None:
    tree = Or((LabelIn("a", frozenset({"y", "x"})), Not(Not(Has("b")))))
    selector = Selector(tree)
    assert str(selector) == '(a in {"x", "y"} || has(b))'
    assert selector == parse(str(selector))
    assert selector.evaluate({"b": ""}) is True
    assert selector.evaluate({"a": "z"}) is False


@pytest.mark.parametrize(
    "build",
    [
        lambda: Has("bad label"),
        lambda: Has(""),
        lambda: Has("a" * 513),
        lambda: LabelEq("a", "both ' and \""),
        lambda: LabelIn("a", frozenset({"ok", "'\""})),
        lambda: And((Has("a"),)),
        lambda: Or(()),
    ],
)
def test_tree_nodes_validate_their_fields(build: object) -> None:
    with pytest.raises(SelectorError):
        build()  # type: ignore[operator]


def test_labels_used() -> None:
    selector = parse("a == 'x' && !(has(b) || c not in {}) && all() || d contains 'e'")
    assert selector.labels_used() == frozenset({"a", "b", "c", "d"})
    assert parse("all() || global()").labels_used() == frozenset()


def test_is_valid_label() -> None:
    assert is_valid_label("projectcalico.org/namespace")
    assert is_valid_label("a" * 512)
    assert not is_valid_label("a" * 513)
    assert not is_valid_label("")
    assert not is_valid_label("a b")


# --- combinators and rewrites -------------------------------------------------------


def test_and_matches_calico_string_concatenation() -> None:
    policy = parse("role == 'db' && tier == 'x'")
    namespace = parse("projectcalico.org/namespace == 'prod'")
    combined = and_(policy, namespace)
    # Calico builds "(<selector>) && <namespace term>" and parses it.
    assert combined == parse(f"({policy}) && {namespace}")
    assert str(combined) == (
        '((role == "db" && tier == "x") && projectcalico.org/namespace == "prod")'
    )
    assert combined.evaluate({"role": "db", "tier": "x", "projectcalico.org/namespace": "prod"})
    assert not combined.evaluate({"role": "db", "tier": "x"})


def test_and_or_with_several_and_one_selector() -> None:
    a, b, c = parse("has(a)"), parse("has(b)"), parse("has(c)")
    assert str(and_(a, b, c)) == "(has(a) && has(b) && has(c))"
    assert str(or_(a, b, c)) == "(has(a) || has(b) || has(c))"
    assert and_(a) is a
    assert or_(a) is a
    assert or_(a, b).evaluate({"b": "1"}) is True


# Ported from parser_test.go "Visitor tests" (PrefixVisitor{Prefix: "visited/"}).
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k == 'v'", 'visited/k == "v"'),
        ("k != 'v'", 'visited/k != "v"'),
        ("k contains 'v'", 'visited/k contains "v"'),
        ("k starts with 'v'", 'visited/k starts with "v"'),
        ("k ends with 'v'", 'visited/k ends with "v"'),
        ("k == 'v' && x == 'y'", '(visited/k == "v" && visited/x == "y")'),
        ("k == 'v' || has(x)", '(visited/k == "v" || has(visited/x))'),
        ("!(k == 'v')", '!visited/k == "v"'),
        ("k in {'v'}", 'visited/k in {"v"}'),
        ("k not in {'v'}", 'visited/k not in {"v"}'),
        (
            "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
            '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})',
        ),
    ],
)
def test_prefix_labels(text: str, expected: str) -> None:
    original = parse(text)
    assert str(original.prefix_labels("visited/")) == expected
    assert str(parse(text)) == str(original)  # the original is untouched


def test_prefix_labels_rejects_a_prefix_that_makes_bad_labels() -> None:
    with pytest.raises(SelectorError, match="invalid selector label"):
        parse("has(a)").prefix_labels("bad prefix ")


NAMESPACE_ALL = parse("has(projectcalico.org/namespace)")
NAMESPACE_GLOBAL = parse("!has(projectcalico.org/namespace)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all()", "has(projectcalico.org/namespace)"),
        ("global()", "!has(projectcalico.org/namespace)"),
        ("!all()", "!has(projectcalico.org/namespace)"),
        ("!global()", "has(projectcalico.org/namespace)"),  # no "!!": it would not round-trip
        ("a == 'all()' || all()", '(a == "all()" || has(projectcalico.org/namespace))'),
        ("has(a)", "has(a)"),
    ],
)
def test_replace_all_and_global(text: str, expected: str) -> None:
    replaced = parse(text).replace_all_and_global(NAMESPACE_ALL, NAMESPACE_GLOBAL)
    assert str(replaced) == expected
    assert parse(expected) == replaced


def test_replace_only_one_of_all_and_global() -> None:
    selector = parse("all() && !global()")
    assert str(selector.replace_all_and_global(NAMESPACE_ALL, None)) == (
        "(has(projectcalico.org/namespace) && !global())"
    )
    assert str(selector.replace_all_and_global(None, NAMESPACE_GLOBAL)) == (
        "(all() && has(projectcalico.org/namespace))"
    )


def test_namespace_selector_conversion() -> None:
    # REFERENCE 2.16: namespaceSelector labels get "pcns.", then all()/global().
    converted = (
        parse("env == 'prod' || all()")
        .prefix_labels("pcns.")
        .replace_all_and_global(NAMESPACE_ALL, NAMESPACE_GLOBAL)
    )
    assert str(converted) == '(pcns.env == "prod" || has(projectcalico.org/namespace))'


# --- label restrictions (ported from label_restriction_test.go) ---------------------


def _lr(
    present: bool = False, absent: bool = False, values: tuple[str, ...] | None = None
) -> LabelRestriction:
    return LabelRestriction(present, absent, None if values is None else frozenset(values))


LABEL_RESTRICTION_TESTS: list[tuple[str, dict[str, LabelRestriction]]] = [
    ("", {}),
    ("all()", {}),
    ("global()", {}),
    ("a == 'value'", {"a": _lr(present=True, values=("value",))}),
    ("has(a)", {"a": _lr(present=True)}),
    ("a in {'v1','v2'}", {"a": _lr(present=True, values=("v1", "v2"))}),
    ("a not in {'v1','v2'}", {}),
    ("a contains 'foo'", {"a": _lr(present=True)}),
    ("a ends with 'foo'", {"a": _lr(present=True)}),
    ("a starts with 'foo'", {"a": _lr(present=True)}),
    ("a != 'value'", {}),
    # AND
    ("a == 'v1' && a == 'v1'", {"a": _lr(present=True, values=("v1",))}),
    ("a == 'v1' && a == 'v2'", {"a": _lr(present=True, values=())}),
    ("a == 'v1' && has(a)", {"a": _lr(present=True, values=("v1",))}),
    ("a in {'v1','v2'} && a in {'v2','v3'} ", {"a": _lr(present=True, values=("v2",))}),
    ("a in {'v1','v2', 'v3'} && a in {'v2','v3'} ", {"a": _lr(present=True, values=("v2", "v3"))}),
    ("has(a) && a == 'v1'", {"a": _lr(present=True, values=("v1",))}),
    ("has(a) && !has(a)", {"a": _lr(present=True, absent=True)}),
    (
        "a == 'v1' && b == 'v2'",
        {"a": _lr(present=True, values=("v1",)), "b": _lr(present=True, values=("v2",))},
    ),
    ("a == 'v1' && all()", {"a": _lr(present=True, values=("v1",))}),
    ("all() && a == 'v1'", {"a": _lr(present=True, values=("v1",))}),
    # OR
    ("a == 'v1' || a == 'v2'", {"a": _lr(present=True, values=("v1", "v2"))}),
    ("has(a) || a == 'v2'", {"a": _lr(present=True)}),
    ("a=='v2' || has(a)", {"a": _lr(present=True)}),
    ("a=='v2' || has(b)", {}),
    ("a=='v2' || (has(b) && has(a))", {"a": _lr(present=True)}),
    ("a == 'v1' || b == 'v2'", {}),
    ("a == 'v1' || all()", {}),
    ("all() || b == 'v2'", {}),
    # NOT
    ("!(a == 'value')", {}),
    ("!has(a)", {"a": _lr(absent=True)}),
    ("!!has(a)", {"a": _lr(present=True)}),
    # Beyond the upstream table.
    ("!(!has(a))", {"a": _lr(present=True)}),
    ("!has(a) || !has(a)", {"a": _lr(absent=True)}),
    ("!has(a) || has(a)", {}),
    ("a in {}", {"a": _lr(present=True, values=())}),
]


@pytest.mark.parametrize(("text", "expected"), LABEL_RESTRICTION_TESTS)
def test_label_restrictions(text: str, expected: dict[str, LabelRestriction]) -> None:
    selector = parse(text)
    assert selector.label_restrictions() == expected
    assert selector.label_restrictions() == expected  # same again (cached)
    if text:
        # Adding an extra "all() &&" to the selector has no effect.
        assert parse(f"all() && ({text})").label_restrictions() == expected


def test_label_restrictions_result_is_a_fresh_dict() -> None:
    selector = parse("has(a)")
    selector.label_restrictions().clear()
    assert selector.label_restrictions() == {"a": _lr(present=True)}


@pytest.mark.parametrize(
    ("restriction", "possible"),
    [
        (_lr(present=True), True),
        (_lr(absent=True), True),
        (_lr(present=True, values=("x",)), True),
        (_lr(present=True, absent=True), False),
        (_lr(present=True, values=()), False),
    ],
)
def test_possible_to_satisfy(restriction: LabelRestriction, possible: bool) -> None:
    assert restriction.possible_to_satisfy is possible


def test_tree_node_types_are_distinct() -> None:
    assert len({LabelEq("a", "b"), LabelNe("a", "b"), Global(), All()}) == 4
    assert parse("a == 'b'").root == LabelEq("a", "b")
