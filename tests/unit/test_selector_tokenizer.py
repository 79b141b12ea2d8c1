"""Selector lexer: Calico's tokenizer_test.go table, plus positions and messages."""

from __future__ import annotations

import pytest

from calico.errors import SelectorError
from calico.selector._tokenizer import Token, TokenKind, tokenize

K = TokenKind
EOF = (K.EOF, "")

# Ported from libcalico-go/lib/selector/tokenizer/tokenizer_test.go (tokenTests).
TOKEN_TESTS: list[tuple[str, list[tuple[TokenKind, str]]]] = [
    ('a=="b"', [(K.LABEL, "a"), (K.EQ, ""), (K.STRING, "b"), EOF]),
    ('a!="b"', [(K.LABEL, "a"), (K.NE, ""), (K.STRING, "b"), EOF]),
    ('a != "b"', [(K.LABEL, "a"), (K.NE, ""), (K.STRING, "b"), EOF]),
    (
        '(a=="b")',
        [(K.LPAREN, ""), (K.LABEL, "a"), (K.EQ, ""), (K.STRING, "b"), (K.RPAREN, ""), EOF],
    ),
    ('label == "value"', [(K.LABEL, "label"), (K.EQ, ""), (K.STRING, "value"), EOF]),
    ('label contains "value"', [(K.LABEL, "label"), (K.CONTAINS, ""), (K.STRING, "value"), EOF]),
    (
        'contains contains "contains"',
        [(K.LABEL, "contains"), (K.CONTAINS, ""), (K.STRING, "contains"), EOF],
    ),
    (
        "contains contains 'contains'",
        [(K.LABEL, "contains"), (K.CONTAINS, ""), (K.STRING, "contains"), EOF],
    ),
    ('label contains"value"', [(K.LABEL, "label"), (K.CONTAINS, ""), (K.STRING, "value"), EOF]),
    (
        'label startswith "value"',
        [(K.LABEL, "label"), (K.STARTS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    ('label endswith "value"', [(K.LABEL, "label"), (K.ENDS_WITH, ""), (K.STRING, "value"), EOF]),
    (
        'label starts with "value"',
        [(K.LABEL, "label"), (K.STARTS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    (
        'startswith starts with "value"',
        [(K.LABEL, "startswith"), (K.STARTS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    (
        'label ends with "value"',
        [(K.LABEL, "label"), (K.ENDS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    (
        'endswith ends with "value"',
        [(K.LABEL, "endswith"), (K.ENDS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    (
        'label starts  with "value"',
        [(K.LABEL, "label"), (K.STARTS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    (
        'label ends  with "value"',
        [(K.LABEL, "label"), (K.ENDS_WITH, ""), (K.STRING, "value"), EOF],
    ),
    ("a" * 512 + ' == "value"', [(K.LABEL, "a" * 512), (K.EQ, ""), (K.STRING, "value"), EOF]),
    (
        'a not in "bar" && !has(foo) || b in c',
        [
            (K.LABEL, "a"),
            (K.NOT_IN, ""),
            (K.STRING, "bar"),
            (K.AND, ""),
            (K.NOT, ""),
            (K.HAS, "foo"),
            (K.OR, ""),
            (K.LABEL, "b"),
            (K.IN, ""),
            (K.LABEL, "c"),
            EOF,
        ],
    ),
    ("has(calico/k8s_ns)", [(K.HAS, "calico/k8s_ns"), EOF]),
    ("has(calico/k8s_ns/role)", [(K.HAS, "calico/k8s_ns/role"), EOF]),
    ("has(calico/k8s_NS-.1/role)", [(K.HAS, "calico/k8s_NS-.1/role"), EOF]),
    (
        'calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"',
        [
            (K.LABEL, "calico/k8s_ns"),
            (K.EQ, ""),
            (K.STRING, "kube-system"),
            (K.AND, ""),
            (K.LABEL, "k8s-app"),
            (K.EQ, ""),
            (K.STRING, "kube-dns"),
            EOF,
        ],
    ),
    (
        'a  not  in  "bar"  &&  ! has( foo )  ||  b  in  c ',
        [
            (K.LABEL, "a"),
            (K.NOT_IN, ""),
            (K.STRING, "bar"),
            (K.AND, ""),
            (K.NOT, ""),
            (K.HAS, "foo"),
            (K.OR, ""),
            (K.LABEL, "b"),
            (K.IN, ""),
            (K.LABEL, "c"),
            EOF,
        ],
    ),
    (
        'a notin"bar"&&!has(foo)||b in"c"',
        [
            (K.LABEL, "a"),
            (K.NOT_IN, ""),
            (K.STRING, "bar"),
            (K.AND, ""),
            (K.NOT, ""),
            (K.HAS, "foo"),
            (K.OR, ""),
            (K.LABEL, "b"),
            (K.IN, ""),
            (K.STRING, "c"),
            EOF,
        ],
    ),
    ("a not in {}", [(K.LABEL, "a"), (K.NOT_IN, ""), (K.LBRACE, ""), (K.RBRACE, ""), EOF]),
    (
        'a not in {"a"}',
        [(K.LABEL, "a"), (K.NOT_IN, ""), (K.LBRACE, ""), (K.STRING, "a"), (K.RBRACE, ""), EOF],
    ),
    (
        'a not in {"a","B"}',
        [
            (K.LABEL, "a"),
            (K.NOT_IN, ""),
            (K.LBRACE, ""),
            (K.STRING, "a"),
            (K.COMMA, ""),
            (K.STRING, "B"),
            (K.RBRACE, ""),
            EOF,
        ],
    ),
    ("global()", [(K.GLOBAL, ""), EOF]),
    ("global( )", [(K.GLOBAL, ""), EOF]),
    ("all()", [(K.ALL, ""), EOF]),
    ("all( )", [(K.ALL, ""), EOF]),
    # Beyond the upstream table: REFERENCE 3.1 edge cases.
    ("", [EOF]),
    (" \t ", [EOF]),
    ("a\t==\t'b'", [(K.LABEL, "a"), (K.EQ, ""), (K.STRING, "b"), EOF]),
    ("has\t( a\t)", [(K.LABEL, "has"), (K.LPAREN, ""), (K.LABEL, "a"), (K.RPAREN, ""), EOF]),
    ("has (a)", [(K.LABEL, "has"), (K.LPAREN, ""), (K.LABEL, "a"), (K.RPAREN, ""), EOF]),
    ("all == 'x'", [(K.LABEL, "all"), (K.EQ, ""), (K.STRING, "x"), EOF]),
    ("in in {}", [(K.LABEL, "in"), (K.IN, ""), (K.LBRACE, ""), (K.RBRACE, ""), EOF]),
    ("a in{}", [(K.LABEL, "a"), (K.IN, ""), (K.LBRACE, ""), (K.RBRACE, ""), EOF]),
    ("'it''s'", [(K.STRING, "it"), (K.STRING, "s"), EOF]),
    ('"it\'s"', [(K.STRING, "it's"), EOF]),
    ("'say \"hi\"'", [(K.STRING, 'say "hi"'), EOF]),
    ("'a\\'", [(K.STRING, "a\\"), EOF]),  # no escapes: a backslash is just a character
    ("'caf\u00e9 \U0001f600'", [(K.STRING, "caf\u00e9 \U0001f600"), EOF]),
    ("!!a", [(K.NOT, ""), (K.NOT, ""), (K.LABEL, "a"), EOF]),
    ("a !", [(K.LABEL, "a"), (K.NOT, ""), EOF]),
]

# Ported from tokenizer_test.go: inputs that must fail (expected == nil).
BAD_INPUTS = [
    "a" * 513 + ' == "value"',
    'label == "value',
    "label == 'value",
    'label = "value"',
    "all(",
    "global(",
    "has()",
    "has(foo",
    "has( foo ",
    'a == "b" & has(foo)',
    'a == "b" | has(foo)',
    'label starts foo "value"',
    'label inf "value"',
    'label ends foo "value"',
    'label ends withs "value"',
    'label squiggles "value"',
    # Beyond the upstream table.
    "a\n== 'b'",  # only space and tab are whitespace
    "a ==\r'b'",
    "a == 'b'\n",
    "%",
    "a == 'b' && \u00e9 == 'c'",  # labels are ASCII only
    "has(a b)",
    "all(x)",
    "a notinx {}",
]


def _kinds_and_values(tokens: list[Token]) -> list[tuple[TokenKind, str]]:
    return [(token.kind, token.value) for token in tokens]


@pytest.mark.parametrize(("text", "expected"), TOKEN_TESTS)
def test_tokenize(text: str, expected: list[tuple[TokenKind, str]]) -> None:
    assert _kinds_and_values(tokenize(text)) == expected


@pytest.mark.parametrize("text", BAD_INPUTS)
def test_tokenize_rejects(text: str) -> None:
    with pytest.raises(SelectorError) as caught:
        tokenize(text)
    assert caught.value.selector == text
    assert caught.value.position is not None
    assert 0 <= caught.value.position <= len(text)


def test_tokens_carry_start_positions() -> None:
    tokens = tokenize(" a  starts with 'x' && has( b )")
    assert [(t.kind, t.pos) for t in tokens] == [
        (K.LABEL, 1),
        (K.STARTS_WITH, 4),
        (K.STRING, 16),
        (K.AND, 20),
        (K.HAS, 23),
        (K.EOF, 31),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = 'b'", "invalid selector \"a = 'b'\": expected '==', found a lone '=' at position 2"),
        ("a & b", "invalid selector \"a & b\": expected '&&', found a lone '&' at position 2"),
        ("a |", "invalid selector \"a |\": expected '||', found a lone '|' at position 2"),
        (
            "a == 'b",
            "invalid selector \"a == 'b\": unterminated string (no closing ') at position 5",
        ),
        ('x == "', "invalid selector 'x == \"': unterminated string (no closing \") at position 5"),
        (
            "a squiggles 'b'",
            "invalid selector \"a squiggles 'b'\": expected an operator after "
            'label "a" at position 2',
        ),
        ("has( )", "invalid selector \"has( )\": expected a label after 'has(' at position 5"),
        ("has(a", "invalid selector \"has(a\": expected ')' to close 'has(' at position 5"),
        ("all( x", "invalid selector \"all( x\": expected ')' after 'all(' at position 5"),
        (
            "a == 'b' ; c",
            "invalid selector \"a == 'b' ; c\": unexpected character ';' at position 9",
        ),
        ("a\n", 'invalid selector "a\\n": expected an operator after label "a" at position 1'),
        ("\n", "invalid selector \"\\n\": unexpected character '\\n' at position 0"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        tokenize(text)
    assert str(caught.value) == message


def test_label_length_limit_names_the_label_start() -> None:
    text = "x == 'y' || " + "b" * 513 + " == 'c'"
    with pytest.raises(SelectorError, match=r"longer than 512 characters at position 12$"):
        tokenize(text)
