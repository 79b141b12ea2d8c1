"""Selector lexer: text to a list of tokens, each with its character position.

Mirrors Calico's hand-written tokenizer (libcalico-go/lib/selector/tokenizer),
including its quirks, because users' selectors must mean the same thing here:

* Only ' ' and '\\t' are whitespace.  A newline is an unexpected character.
* Labels are 1..512 characters of ``[a-zA-Z0-9_./-]``; ``/`` and ``.`` are
  ordinary label characters, so ``projectcalico.org/namespace`` is one label.
* String literals are '...' or "..." with no escapes: the literal ends at the
  first matching quote.  So a value can hold one kind of quote, never both.
* ``has(``, ``all(`` and ``global(`` are keywords only when written with no
  space before ``(``; ``has (a)`` is the label ``has`` followed by ``(``.
* Right after a label the lexer looks for a word operator: ``contains``,
  ``starts with``, ``ends with``, ``not in``, ``in``.  The two-word ones may
  be written with no space (``startswith``, ``notin``) and every one needs a
  word boundary after it, so ``a inx`` is an error, not ``a in x``.
"""

from __future__ import annotations

import enum
import json
import re
from typing import NamedTuple, NoReturn

from calico.errors import SelectorError

MAX_LABEL_LENGTH = 512

_LABEL_RE = re.compile(r"[a-zA-Z0-9_./-]+")
_WHITESPACE = " \t"


class TokenKind(enum.StrEnum):
    """Each kind's value is how error messages name it."""

    LABEL = "label"
    STRING = "string"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    EQ = "'=='"
    NE = "'!='"
    IN = "'in'"
    NOT_IN = "'not in'"
    CONTAINS = "'contains'"
    STARTS_WITH = "'starts with'"
    ENDS_WITH = "'ends with'"
    NOT = "'!'"
    AND = "'&&'"
    OR = "'||'"
    LPAREN = "'('"
    RPAREN = "')'"
    HAS = "has()"
    ALL = "all()"
    GLOBAL = "global()"
    EOF = "the end of the selector"


class Token(NamedTuple):
    kind: TokenKind
    value: str
    pos: int  # index of the token's first character in the selector text

    def describe(self) -> str:
        """How error messages name this token: 'label "a"', "'=='", ..."""
        if self.kind in (TokenKind.LABEL, TokenKind.STRING):
            return f"{self.kind.value} {quote_for_message(self.value)}"
        if self.kind is TokenKind.HAS:
            return f"has({self.value})"
        return self.kind.value


_SINGLE_CHAR = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "{": TokenKind.LBRACE,
    "}": TokenKind.RBRACE,
    ",": TokenKind.COMMA,
}
_TWO_CHAR = {
    "==": TokenKind.EQ,
    "!=": TokenKind.NE,
    "&&": TokenKind.AND,
    "||": TokenKind.OR,
}
# Order matters: "not in" before "in" (Calico tries them in this order too).
_WORD_OPERATORS: tuple[tuple[tuple[str, ...], TokenKind], ...] = (
    (("contains",), TokenKind.CONTAINS),
    (("starts", "with"), TokenKind.STARTS_WITH),
    (("ends", "with"), TokenKind.ENDS_WITH),
    (("not", "in"), TokenKind.NOT_IN),
    (("in",), TokenKind.IN),
)


def quote_for_message(text: str) -> str:
    """Quote text for a one-line error message.

    Double quotes, or single quotes if that avoids escaping (selectors are
    full of "..." values); JSON escapes when nothing else keeps it readable
    on one line (control characters, both kinds of quote).
    """
    if text.isprintable():
        if '"' not in text:
            return f'"{text}"'
        if "'" not in text:
            return f"'{text}'"
    quoted: str = json.dumps(text, ensure_ascii=False)
    return quoted


def fail(text: str, pos: int, detail: str) -> NoReturn:
    """Raise the SelectorError every lexer and parser error goes through."""
    message = f"invalid selector {quote_for_message(text)}: {detail} at position {pos}"
    raise SelectorError(message, selector=text, position=pos)


def is_valid_label(label: str) -> bool:
    """True if label is a label key the selector language can spell."""
    return len(label) <= MAX_LABEL_LENGTH and _LABEL_RE.fullmatch(label) is not None


def tokenize(text: str) -> list[Token]:
    """Split selector text into tokens, always ending with an EOF token."""
    tokens: list[Token] = []
    pos = _skip_whitespace(text, 0)
    while pos < len(text):
        previous = tokens[-1] if tokens else None
        token, pos = _next_token(text, pos, previous)
        tokens.append(token)
        pos = _skip_whitespace(text, pos)
    tokens.append(Token(TokenKind.EOF, "", len(text)))
    return tokens


def _skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _next_token(text: str, pos: int, previous: Token | None) -> tuple[Token, int]:
    """Lex the one token starting at pos (not whitespace); return it and its end."""
    char = text[pos]
    if char in _SINGLE_CHAR:
        return Token(_SINGLE_CHAR[char], "", pos), pos + 1
    if char in "\"'":
        return _string(text, pos)
    pair = text[pos : pos + 2]
    if pair in _TWO_CHAR:
        return Token(_TWO_CHAR[pair], "", pos), pos + 2
    if char == "!":
        return Token(TokenKind.NOT, "", pos), pos + 1
    if char in "=&|":
        fail(text, pos, f"expected '{char}{char}', found a lone '{char}'")
    if previous is not None and previous.kind is TokenKind.LABEL:
        return _word_operator(text, pos, previous.value)
    return _keyword_or_label(text, pos)


def _string(text: str, pos: int) -> tuple[Token, int]:
    quote = text[pos]
    end = text.find(quote, pos + 1)
    if end == -1:
        fail(text, pos, f"unterminated string (no closing {quote})")
    return Token(TokenKind.STRING, text[pos + 1 : end], pos), end + 1


def _word_operator(text: str, pos: int, label: str) -> tuple[Token, int]:
    for words, kind in _WORD_OPERATORS:
        end = _match_words(text, pos, words)
        if end is not None:
            return Token(kind, "", pos), end
    fail(text, pos, f"expected an operator after label {quote_for_message(label)}")


def _match_words(text: str, pos: int, words: tuple[str, ...]) -> int | None:
    """End of the words at pos (any whitespace between them), or None.

    The last word must end at a word boundary: ``in`` matches ``in {`` and
    ``in"x"`` but not ``inx``.
    """
    for index, word in enumerate(words):
        if index:
            pos = _skip_whitespace(text, pos)
        if not text.startswith(word, pos):
            return None
        pos += len(word)
    if pos < len(text) and _LABEL_RE.match(text[pos]):
        return None
    return pos


def _keyword_or_label(text: str, pos: int) -> tuple[Token, int]:
    if text.startswith("has(", pos):
        return _has(text, pos)
    for keyword, kind in (("all(", TokenKind.ALL), ("global(", TokenKind.GLOBAL)):
        if text.startswith(keyword, pos):
            end = _skip_whitespace(text, pos + len(keyword))
            if not text.startswith(")", end):
                fail(text, end, f"expected ')' after '{keyword}'")
            return Token(kind, "", pos), end + 1
    label, end = _label(text, pos, f"unexpected character {text[pos]!r}")
    return Token(TokenKind.LABEL, label, pos), end


def _has(text: str, pos: int) -> tuple[Token, int]:
    start = _skip_whitespace(text, pos + len("has("))
    label, end = _label(text, start, "expected a label after 'has('")
    end = _skip_whitespace(text, end)
    if not text.startswith(")", end):
        fail(text, end, "expected ')' to close 'has('")
    return Token(TokenKind.HAS, label, pos), end + 1


def _label(text: str, pos: int, missing: str) -> tuple[str, int]:
    """The label starting at pos and its end; fail with missing if there is none."""
    match = _LABEL_RE.match(text, pos)
    if match is None:
        fail(text, pos, missing)
    label = match.group()
    if len(label) > MAX_LABEL_LENGTH:
        fail(text, pos, f"label is longer than {MAX_LABEL_LENGTH} characters")
    return label, match.end()
