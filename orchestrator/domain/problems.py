"""Problems found in a definition, and a field reader that records them instead of raising.

Paths are JSONPath-like from the definition root: ``$.tasks[2].joinOn[0]``,
``$.tasks[1].decisionCases.yes[0].name``, ``$.tasks[0].decisionCases['a b'][0]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

JSON = Any
E = TypeVar("E", bound=StrEnum)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(ValueError):
    """A definition was refused; ``problems`` lists every problem found, each with its path."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid definition")


def key_path(base: str, key: str) -> str:
    return f"{base}.{key}" if _IDENTIFIER.fullmatch(key) else f"{base}[{key!r}]"


def describe(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Reader:
    """Reads typed fields out of JSON objects; wrong types become Problems, never exceptions."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def wrong(self, path: str, expected: str, value: JSON) -> None:
        self.problem(path, f"expected {expected}, got {describe(value)}")

    def obj(self, value: JSON, path: str) -> Mapping[str, JSON] | None:
        if isinstance(value, Mapping):
            return value
        self.wrong(path, "an object", value)
        return None

    def required_str(self, data: Mapping[str, JSON], key: str, path: str) -> str:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if value is None or value == "" or (isinstance(value, str) and not value.strip()):
            self.problem(key_path(path, key), f"{key} is required")
        else:
            self.wrong(key_path(path, key), "a string", value)
        return value if isinstance(value, str) else ""

    def opt_str(self, data: Mapping[str, JSON], key: str, path: str) -> str | None:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.wrong(key_path(path, key), "a string", value)
        return None

    def opt_int(self, data: Mapping[str, JSON], key: str, path: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        # Jackson accepts integral floats and numeric strings for int fields; so do we.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return int(value)
        self.wrong(key_path(path, key), "an integer", value)
        return None

    def integer(self, data: Mapping[str, JSON], key: str, path: str, default: int) -> int:
        value = self.opt_int(data, key, path)
        return default if value is None else value

    def boolean(self, data: Mapping[str, JSON], key: str, path: str, default: bool) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.wrong(key_path(path, key), "a boolean", value)
        return default

    def enum(self, data: Mapping[str, JSON], key: str, path: str, kind: type[E], default: E) -> E:
        value = data.get(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            self.problem(key_path(path, key), f"{value!r} is not one of {allowed}")
            return default

    def json_obj(self, data: Mapping[str, JSON], key: str, path: str) -> dict[str, JSON] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.wrong(key_path(path, key), "an object", value)
            return None
        return {
            str(k): self.json_value(v, key_path(key_path(path, key), str(k)))
            for k, v in value.items()
        }

    def json_value(self, value: JSON, path: str) -> JSON:
        """A private copy of a JSON value (so later changes to the input cannot leak in)."""
        if value is None or isinstance(value, str | bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {str(k): self.json_value(v, key_path(path, str(k))) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        self.wrong(path, "a JSON value", value)
        return None

    def str_list(self, data: Mapping[str, JSON], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.wrong(key_path(path, key), "a list of strings", value)
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.wrong(f"{key_path(path, key)}[{i}]", "a string", item)
        return tuple(out)

    def str_map(self, data: Mapping[str, JSON], key: str, path: str) -> dict[str, str]:
        value = self.json_obj(data, key, path) or {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, str):
                out[k] = v
            else:
                self.wrong(key_path(key_path(path, key), k), "a string", v)
        return out
