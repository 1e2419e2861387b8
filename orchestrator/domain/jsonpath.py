"""JSONPath reads the way Conductor's expressions (Jayway JsonPath) do them.

A path is relative to a document whose top-level keys are *roots* (``workflow`` and task
reference names). Only the root the path names is looked up, so reading a path costs the same
whatever the size of the workflow. Simple dotted/indexed paths (nearly all real ones) are read by
a small hand-written walker; anything else (wildcards, filters, deep scan, slices, unions) goes
to jsonpath-ng's extended parser over ``{root: document}``.

Semantics copied from Jayway with ``SUPPRESS_EXCEPTIONS``: a missing key, an index out of range
or a step over the wrong kind of value reads as ``None``; an indefinite path (wildcard, filter,
deep scan, slice, union) reads as the list of its matches; an invalid path reads as ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _jp_parse

JSON = Any


class _Missing:
    """The type of MISSING: a root that does not exist (yet) in the workflow."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
Lookup = Callable[[str], Any]  # root name -> that root's document, or MISSING

# One step of a simple path: .name | [3] | [-1] | ['name'] | ["name"]
_STEP = re.compile(
    r"""\.([^.\[\]()'"\s*?@$,:]+)"""
    r"""|\[\s*(-?\d+)\s*\]"""
    r"""|\[\s*'((?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"((?:[^"\\]|\\.)*)"\s*\]"""
)
_FUNCTION = re.compile(r"^(.*)\.(length|size|min|max|avg|sum|stddev|keys|first|last)\(\)$", re.S)
_INDEFINITE = re.compile(r"\*|\.\.|\?|\[[^\]]*[,:][^\]]*\]")
_ROOT = re.compile(r"""^\$(?:\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\])""")

Step = str | int
Reader = Callable[[Lookup], JSON]


def read_path(path: str, lookup: Lookup) -> JSON:
    """The value at ``path`` (Conductor syntax, ``$`` optional) or None when absent."""
    return compile_path(path)(lookup)


def read_in(document: JSON, path: str) -> JSON:
    """The value at ``path`` inside one document (``$`` is the document itself)."""
    return compile_path("$.__doc__" + _normalise(path)[1:])(
        lambda name: document if name == "__doc__" else MISSING
    )


@lru_cache(maxsize=4096)
def compile_path(path: str) -> Reader:
    """A reader for ``path``; cached because the same few paths are read over and over."""
    function = _FUNCTION.match(path.strip())
    if function is not None:
        inner = compile_path(function.group(1))
        apply = _FUNCTIONS[function.group(2)]
        return lambda lookup: _safe(apply, inner(lookup))
    normalised = _normalise(path)
    steps = _simple_steps(normalised)
    if steps is not None:
        return _simple_reader(steps)
    return _general_reader(normalised)


def _normalise(path: str) -> str:
    # Jayway prepends "$." to a path that does not start with "$" (or "$" before a "[").
    path = path.strip()
    if path.startswith("$"):
        return path
    return "$" + path if path.startswith("[") else "$." + path


def _simple_steps(path: str) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    pos, end = 1, len(path)
    while pos < end:
        m = _STEP.match(path, pos)
        if m is None:
            return None
        name, index, single, double = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(name if name is not None else _unescape(single or double or ""))
        pos = m.end()
    return tuple(steps) if steps and isinstance(steps[0], str) else None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _simple_reader(steps: tuple[Step, ...]) -> Reader:
    root, rest = steps[0], steps[1:]

    def read(lookup: Lookup) -> JSON:
        value = lookup(root)  # type: ignore[arg-type]
        if value is MISSING:
            return None
        for step in rest:
            if isinstance(step, str):
                if not isinstance(value, dict):
                    return None
                value = value.get(step)
            else:
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    return None
                value = value[step]
        return value

    return read


def _general_reader(path: str) -> Reader:
    root = _ROOT.match(path)
    try:
        expression = _jp_parse(path)
    except (JsonPathLexerError, JsonPathParserError, Exception):
        return lambda lookup: None
    if root is None:
        # e.g. "$..id" or "$.*": would need every root at once; not supported (O(workflow)).
        return lambda lookup: None
    name = next(g for g in root.groups() if g is not None)
    indefinite = _INDEFINITE.search(path[root.end() :]) is not None

    def read(lookup: Lookup) -> JSON:
        document = lookup(name)
        if document is MISSING:
            return [] if indefinite else None
        try:
            values = [match.value for match in expression.find({name: document})]
        except Exception:  # a filter comparing incomparable values, etc.: Jayway suppresses
            return [] if indefinite else None
        if indefinite:
            return values
        return values[0] if values else None

    return read


def _safe(apply: Callable[[JSON], JSON], value: JSON) -> JSON:
    try:
        return apply(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _numbers(value: JSON) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ValueError("not a list of numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise ValueError("not a list of numbers")
    return [float(x) for x in value]


def _stddev(value: JSON) -> float:
    numbers = _numbers(value)
    mean = sum(numbers) / len(numbers)
    return math.sqrt(sum((x - mean) ** 2 for x in numbers) / len(numbers))


def _length(value: JSON) -> int:
    if not isinstance(value, list | dict | str):
        raise TypeError("no length")
    return len(value)


def _keys(value: JSON) -> list[str]:
    if not isinstance(value, dict):
        raise TypeError("no keys")
    return list(value)


# Jayway's path functions return doubles for the numeric ones; so do these.
_FUNCTIONS: dict[str, Callable[[JSON], JSON]] = {
    "length": _length,
    "size": _length,
    "min": lambda v: min(_numbers(v)),
    "max": lambda v: max(_numbers(v)),
    "sum": lambda v: sum(_numbers(v)),
    "avg": lambda v: sum(_numbers(v)) / len(_numbers(v)),
    "stddev": _stddev,
    "keys": _keys,
    "first": lambda v: v[0] if isinstance(v, list) and v else None,
    "last": lambda v: v[-1] if isinstance(v, list) and v else None,
}
