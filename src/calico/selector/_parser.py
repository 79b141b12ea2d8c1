"""Recursive-descent parser: selector text to a syntax tree.

Grammar (Calico's libcalico-go/lib/selector/parser/parser.go)::

    selector   := <empty> | or_expr EOF          # empty == all()
    or_expr    := and_expr ( "||" and_expr )*
    and_expr   := operation ( "&&" operation )*
    operation  := "!"* operand                   # !s collapse: odd -> one Not
    operand    := has(LABEL) | all() | global() | "(" or_expr ")"
                | LABEL ("==" | "!=" | "contains" | "starts with" | "ends with") STRING
                | LABEL ("in" | "not in") "{" [ STRING ( "," STRING )* [","] ] "}"

``!`` binds to one operation, so ``!a == "x" || b == "y"`` is
``(!a == "x") || b == "y"``.  A set may end with a trailing comma (Calico's
loop accepts ``{"a",}``).  A label must be on the left of its operator.

One addition to Calico: parentheses nest at most MAX_NESTING deep, so that a
hostile selector gets a SelectorError rather than exhausting Python's stack.
"""

from __future__ import annotations

from typing import NoReturn

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
    Or,
    negate,
)
from calico.selector._tokenizer import Token, TokenKind, fail, quote_for_message, tokenize

MAX_NESTING = 64  # each level costs 5 Python frames; real selectors use a handful

_ValueNode = LabelEq | LabelNe | LabelContains | LabelStartsWith | LabelEndsWith
_VALUE_NODES: dict[TokenKind, type[_ValueNode]] = {
    TokenKind.EQ: LabelEq,
    TokenKind.NE: LabelNe,
    TokenKind.CONTAINS: LabelContains,
    TokenKind.STARTS_WITH: LabelStartsWith,
    TokenKind.ENDS_WITH: LabelEndsWith,
}
_SET_NODES: dict[TokenKind, type[LabelIn | LabelNotIn]] = {
    TokenKind.IN: LabelIn,
    TokenKind.NOT_IN: LabelNotIn,
}


def parse_tree(text: str) -> Node:
    """Parse selector text into its tree; raise SelectorError if it is not valid."""
    return _Parser(text, tokenize(text)).parse()


class _Parser:
    """One parse: a cursor over the token list (which always ends with EOF)."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self._text = text
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        if self._peek().kind is TokenKind.EOF:
            return All()
        node = self._or_expr()
        token = self._peek()
        if token.kind is not TokenKind.EOF:
            self._fail(token, f"expected '&&', '||' or the end, found {token.describe()}")
        return node

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        """Consume and return the next token; EOF is never consumed."""
        token = self._tokens[self._index]
        if token.kind is not TokenKind.EOF:
            self._index += 1
        return token

    def _fail(self, token: Token, detail: str) -> NoReturn:
        fail(self._text, token.pos, detail)

    def _or_expr(self) -> Node:
        operands = [self._and_expr()]
        while self._peek().kind is TokenKind.OR:
            self._advance()
            operands.append(self._and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and_expr(self) -> Node:
        operands = [self._operation()]
        while self._peek().kind is TokenKind.AND:
            self._advance()
            operands.append(self._operation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _operation(self) -> Node:
        negated = False
        while self._peek().kind is TokenKind.NOT:
            self._advance()
            negated = not negated
        node = self._operand()
        return negate(node) if negated else node

    def _operand(self) -> Node:
        token = self._advance()
        match token.kind:
            case TokenKind.HAS:
                return Has(token.value)
            case TokenKind.ALL:
                return All()
            case TokenKind.GLOBAL:
                return Global()
            case TokenKind.LPAREN:
                return self._group(token)
            case TokenKind.LABEL:
                return self._comparison(token.value)
        expected = "a label, has(), all(), global(), '!' or '('"
        self._fail(token, f"expected {expected}, found {token.describe()}")

    def _group(self, lparen: Token) -> Node:
        self._depth += 1
        if self._depth > MAX_NESTING:
            self._fail(lparen, f"parentheses nested more than {MAX_NESTING} deep")
        node = self._or_expr()
        token = self._advance()
        if token.kind is not TokenKind.RPAREN:
            detail = f"expected ')' to close the '(' at position {lparen.pos}"
            self._fail(token, f"{detail}, found {token.describe()}")
        self._depth -= 1
        return node

    def _comparison(self, label: str) -> Node:
        operator = self._advance()
        if operator.kind in _VALUE_NODES:
            value = self._advance()
            if value.kind is not TokenKind.STRING:
                self._fail(value, f"expected a quoted string after {operator.kind.value}")
            return _VALUE_NODES[operator.kind](label, value.value)
        if operator.kind in _SET_NODES:
            return _SET_NODES[operator.kind](label, self._set_literal(operator))
        self._fail(operator, f"expected an operator after label {quote_for_message(label)}")

    def _set_literal(self, operator: Token) -> frozenset[str]:
        brace = self._advance()
        if brace.kind is not TokenKind.LBRACE:
            self._fail(brace, f"expected '{{' after {operator.kind.value}")
        values: list[str] = []
        token = self._advance()
        while token.kind is TokenKind.STRING:
            values.append(token.value)
            token = self._advance()
            if token.kind is TokenKind.RBRACE:
                break
            if token.kind is not TokenKind.COMMA:
                self._fail(token, f"expected ',' or '}}' in the set, found {token.describe()}")
            token = self._advance()
        if token.kind is not TokenKind.RBRACE:
            self._fail(
                token, f"expected a quoted string or '}}' in the set, found {token.describe()}"
            )
        return frozenset(values)
