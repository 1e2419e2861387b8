"""Conductor's search query grammar -> a small tree of typed conditions.

    query      := term [ (AND | OR) query ]
    term       := '(' query ')' | field condition
    condition  := ('=' | '!=' | '>' | '<' | '>=' | '<=') value
                | IN '(' value { ',' value } ')'
                | BETWEEN value AND value
                | IS [NOT] NULL
                | STARTS_WITH value
    value      := 'quoted' | "quoted" | bare-word

Like Conductor's parser (its Expression nests the rest of the query as the right-hand side),
AND and OR have EQUAL precedence and group to the right: ``a AND b OR c`` means
``a AND (b OR c)``. Users moving from Conductor get the rows they got there; parentheses make
any other grouping explicit. Beyond Conductor (a superset, nothing it accepts is refused):
``>=`` and ``<=``, bare words as values (``status = RUNNING``), keywords in any case, and values
are checked against the field's type (integers for times, known statuses) instead of silently
matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.api.search.errors import QueryError
from orchestrator.api.search.fields import Field, FieldType
from orchestrator.api.search.lexer import Kind, Token, tokenize

Value = str | int
COMPARISONS = ("=", "!=", ">", "<", ">=", "<=")
_ORDERING = (">", "<", ">=", "<=", "BETWEEN")
MAX_IN_VALUES = 1000
# Bounds that keep parsing and the SQL small (and Python's recursion far from its limit).
MAX_LENGTH = 10_000
MAX_CONDITIONS = 200
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Condition:
    field: Field
    op: str  # one of COMPARISONS, IN, BETWEEN, IS NULL, IS NOT NULL, STARTS_WITH
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Junction:
    op: str  # AND | OR
    left: Node
    right: Node


Node = Condition | Junction


def parse_query(text: str | None, fields: dict[str, Field]) -> Node | None:
    """The tree of ``text``; None for an empty query (no condition). Raises QueryError."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_LENGTH:
        raise QueryError(MAX_LENGTH, f"at most {MAX_LENGTH} characters", f"{len(text)}")
    parser = _Parser(tokenize(text), fields)
    node = parser.query()
    token = parser.peek()
    if token.kind is not Kind.END:
        found = token.describe() + (" with no '(' open" if token.kind is Kind.RPAREN else "")
        raise QueryError(token.pos, "AND, OR or the end of the query", found)
    return node


class _Parser:
    def __init__(self, tokens: list[Token], fields: dict[str, Field]) -> None:
        self._tokens = tokens
        self._i = 0
        self._fields = fields
        self._conditions = 0

    def peek(self) -> Token:
        return self._tokens[self._i]

    def _next(self) -> Token:
        token = self._tokens[self._i]
        if token.kind is not Kind.END:
            self._i += 1
        return token

    def _expect(self, kind: Kind, expected: str) -> Token:
        token = self._next()
        if token.kind is not kind:
            raise QueryError(token.pos, expected, token.describe())
        return token

    def query(self, depth: int = 0) -> Node:
        """A chain of terms, read in a loop and nested to the right (no recursion per AND)."""
        terms, ops = [self._term(depth)], []
        while self.peek().is_keyword("AND", "OR"):
            ops.append(self._next().text.upper())
            terms.append(self._term(depth))
        node = terms[-1]
        for op, left in zip(reversed(ops), reversed(terms[:-1]), strict=True):
            node = Junction(op, left, node)
        return node

    def _term(self, depth: int) -> Node:
        token = self.peek()
        if token.kind is Kind.LPAREN:
            if depth >= MAX_DEPTH:
                raise QueryError(token.pos, f"at most {MAX_DEPTH} nested parentheses", "more")
            self._next()
            inner = self.query(depth + 1)
            self._expect(Kind.RPAREN, "')', AND or OR")
            return inner
        return self._condition()

    def _condition(self) -> Condition:
        token = self._next()
        self._conditions += 1
        if self._conditions > MAX_CONDITIONS:
            raise QueryError(token.pos, f"at most {MAX_CONDITIONS} conditions", "more")
        if token.kind is not Kind.WORD:
            raise QueryError(token.pos, f"a field name ({self._names()}) or '('", token.describe())
        field = self._fields.get(token.text)
        if field is None:
            raise QueryError(token.pos, f"a field name ({self._names()})", token.describe())
        op_token = self._next()
        op = op_token.text if op_token.kind is Kind.OP else op_token.text.upper()
        if op_token.kind is Kind.OP or op in ("IN", "BETWEEN", "IS", "STARTS_WITH"):
            _check_op_fits(field, op, op_token)
        if op_token.kind is Kind.OP:
            return Condition(field, op, (self._value(field),))
        if op == "IN":
            return Condition(field, "IN", self._list(field))
        if op == "BETWEEN":
            low = self._value(field)
            self._keyword("AND", "AND between the two BETWEEN values")
            return Condition(field, "BETWEEN", (low, self._value(field)))
        if op == "IS":
            negated = self.peek().is_keyword("NOT")
            if negated:
                self._next()
            self._keyword("NULL", "NULL or NOT NULL after IS")
            return Condition(field, "IS NOT NULL" if negated else "IS NULL", ())
        if op == "STARTS_WITH":
            return Condition(field, op, (self._value(field, raw_text=True),))
        expected = "an operator (=, !=, >, <, >=, <=, IN, BETWEEN, IS, STARTS_WITH)"
        raise QueryError(op_token.pos, expected, op_token.describe())

    def _keyword(self, word: str, expected: str) -> None:
        token = self._next()
        if not token.is_keyword(word):
            raise QueryError(token.pos, expected, token.describe())

    def _list(self, field: Field) -> tuple[Value, ...]:
        self._expect(Kind.LPAREN, "'(' opening the IN list")
        values = [self._value(field)]
        while True:
            token = self._next()
            if token.kind is Kind.RPAREN:
                return tuple(values)
            if token.kind is not Kind.COMMA:
                raise QueryError(token.pos, "',' or ')' in the IN list", token.describe())
            if len(values) >= MAX_IN_VALUES:
                raise QueryError(token.pos, f"at most {MAX_IN_VALUES} IN values", "more")
            values.append(self._value(field))

    def _value(self, field: Field, raw_text: bool = False) -> Value:
        token = self._next()
        if token.kind not in (Kind.STRING, Kind.WORD):
            raise QueryError(token.pos, f"a value for {field.name}", token.describe())
        if field.type.numeric and not raw_text:
            try:
                return int(token.text)
            except ValueError:
                expected = f"an integer for {field.name} ({field.type.value})"
                raise QueryError(token.pos, expected, token.describe()) from None
        if field.type is FieldType.STATUS and not raw_text and token.text not in field.statuses:
            expected = f"a status ({', '.join(sorted(field.statuses))})"
            raise QueryError(token.pos, expected, token.describe())
        return token.text

    def _names(self) -> str:
        return ", ".join(self._fields)


def _check_op_fits(field: Field, op: str, token: Token) -> None:
    if op in _ORDERING and not field.type.numeric:
        raise QueryError(
            token.pos,
            f"=, !=, IN, IS or STARTS_WITH for the {field.type.value} field {field.name}",
            token.describe(),
        )
    if op == "STARTS_WITH" and field.type.numeric:
        raise QueryError(
            token.pos,
            f"a comparison, IN, BETWEEN or IS for the numeric field {field.name}",
            token.describe(),
        )
