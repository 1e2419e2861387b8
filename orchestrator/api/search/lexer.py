"""Tokens of Conductor's search ``query`` text, each with its character offset.

Offsets are 0-based indexes into the query string; every error message names one, so a user
sees where the query broke ("at position 17").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from orchestrator.api.search.errors import QueryError


class Kind(Enum):
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    OP = "an operator"
    STRING = "a quoted string"
    WORD = "a word"
    END = "the end of the query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the value: operator symbol, unquoted string content, or the bare word
    pos: int

    def describe(self) -> str:
        if self.kind is Kind.END:
            return "the end of the query"
        if self.kind is Kind.STRING:
            return f"string {self.text!r}"
        return repr(self.text)

    def is_keyword(self, *words: str) -> bool:
        return self.kind is Kind.WORD and self.text.upper() in words


_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")  # longest first
_PUNCT = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}
# A bare word stops at whitespace, punctuation, quotes and operator characters.
_WORD_STOP = set(" \t\r\n(),'\"=!<>")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            tokens.append(Token(_PUNCT[ch], ch, i))
            i += 1
        elif ch in "'\"":
            value, i_next = _quoted(text, i)
            tokens.append(Token(Kind.STRING, value, i))
            i = i_next
        elif op := next((o for o in _OPERATORS if text.startswith(o, i)), None):
            tokens.append(Token(Kind.OP, op, i))
            i += len(op)
        elif ch == "!":
            raise QueryError(i, "'!=' (a lone '!' is not an operator)", repr(ch))
        else:
            start = i
            while i < len(text) and text[i] not in _WORD_STOP:
                i += 1
            tokens.append(Token(Kind.WORD, text[start:i], start))
    tokens.append(Token(Kind.END, "", len(text)))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A '...' or "..." string; a backslash takes the next character literally (as Conductor)."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError(len(text), f"the closing {quote} of the string opened at {start}", "nothing")
