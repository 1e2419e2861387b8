"""The one error of the search package: where the input broke and what was expected there."""

from __future__ import annotations


class QueryError(ValueError):
    """A malformed ``query`` or ``sort``; the API answers 400 with ``str(error)``."""

    def __init__(self, position: int, expected: str, found: str, what: str = "query") -> None:
        self.position = position
        self.expected = expected
        self.found = found
        self.what = what
        super().__init__(
            f"Invalid {what} at position {position}: expected {expected}, found {found}"
        )
