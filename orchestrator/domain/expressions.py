"""Conductor's ``${...}`` parameter expressions, resolved the way ParametersUtils does.

- Any string anywhere in a template may hold ``${path}``; ``path`` is a JSONPath over a document
  whose top-level keys are the roots (``workflow`` and task reference names). Only the root a
  path names is looked up (see jsonpath.py), never the whole "all tasks" document.
- A string that is exactly one ``${...}`` yields the typed value; otherwise each value is
  interpolated as text the way Java's ``Objects.toString`` prints it (null -> "null",
  maps -> "{a=1, b=x}", lists -> "[1, 2]", doubles -> "1.0" / "1.0E7").
- A missing path yields None; ``${}`` yields ""; ``$${`` is a literal ``${``.
- Nested expressions resolve inner first: ``${workflow.input.${workflow.input.key}}``.
- ``${workflow.secrets.X}`` is left verbatim (secrets never enter the event log); the runtime
  calls ``resolve_secrets`` at hand-off to a worker.
- ``${CPEWF_TASK_ID}``: the id of the task whose input is resolved (Conductor's system
  parameter); an ordinary root here, answered by the engine's lookup (inputs.lookup_for).

Template strings are parsed once (lru_cache on the string); constant strings cost one ``in``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from orchestrator.domain.jsonpath import MISSING, Lookup, read_in, read_path

__all__ = ["MISSING", "Lookup", "has_secrets", "resolve", "resolve_secrets", "to_text"]

JSON = Any
SECRETS_PREFIX = "workflow.secrets."
_SECRET = re.compile(r"\$\{workflow\.secrets\.([^}]+)\}")


@dataclass(frozen=True, slots=True)
class _Expr:
    """One ``${...}``: its path, either constant text or parts that still hold expressions."""

    path: str | None
    parts: tuple[str | _Expr, ...]


Parts = tuple[str | _Expr, ...]


def resolve(template: JSON, lookup: Lookup) -> JSON:
    """``template`` with every expression resolved; unchanged containers are returned as is."""
    if isinstance(template, str):
        return _resolve_string(template, lookup) if "$" in template else template
    if isinstance(template, dict):
        changed = False
        out: dict[str, JSON] = {}
        for key, value in template.items():
            new = resolve(value, lookup)
            changed = changed or new is not value
            out[key] = new
        return out if changed else template
    if isinstance(template, list):
        items = [resolve(value, lookup) for value in template]
        if any(new is not old for new, old in zip(items, template, strict=True)):
            return items
        return template
    return template


def _resolve_string(text: str, lookup: Lookup) -> JSON:
    parts = _parse(text)
    if parts is None:
        return text
    if len(parts) == 1:
        only = parts[0]  # exactly one expression: the typed value; or escaped constant text
        return only if isinstance(only, str) else _value(only, lookup)
    return _render(parts, lookup)


def _render(parts: Parts, lookup: Lookup) -> str:
    pieces = [p if isinstance(p, str) else to_text(_value(p, lookup)) for p in parts]
    return "".join(pieces).replace("$${", "${")


def _value(expr: _Expr, lookup: Lookup) -> JSON:
    path = expr.path if expr.path is not None else _render(expr.parts, lookup)
    if not path.strip():
        return ""
    if path.startswith(SECRETS_PREFIX):
        return "${" + path + "}"  # deferred to hand-off: see resolve_secrets
    return read_path(path, lookup)


@lru_cache(maxsize=8192)
def _parse(text: str) -> Parts | None:
    """The parts of ``text``, or None when it holds no expression and no ``$${`` escape."""
    if "${" not in text:
        return None
    parts = _split(text)
    if len(parts) == 1 and isinstance(parts[0], str):
        unescaped = parts[0].replace("$${", "${")
        return None if unescaped == text else (unescaped,)
    return parts


def _split(text: str) -> Parts:
    parts: list[str | _Expr] = []
    literal_start = pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            break
        if start > 0 and text[start - 1] == "$":  # "$${" is an escape, not an expression
            pos = start + 2
            continue
        end = _closing_brace(text, start + 2)
        if end < 0:
            break  # unbalanced: the rest is literal text
        if start > literal_start:
            parts.append(text[literal_start:start])
        parts.append(_expr(text[start + 2 : end]))
        literal_start = pos = end + 1
    if literal_start < len(text):
        parts.append(text[literal_start:])
    return tuple(parts)


def _closing_brace(text: str, pos: int) -> int:
    depth = 1
    for i in range(pos, len(text)):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _expr(inner: str) -> _Expr:
    parts = _split(inner) if "${" in inner else (inner,)
    if all(isinstance(p, str) for p in parts):
        # Inner text goes through the same "$${" unescape Conductor applies to nested results.
        return _Expr(path="".join(str(p) for p in parts).replace("$${", "${"), parts=())
    return _Expr(path=None, parts=parts)


def to_text(value: JSON) -> str:
    """``value`` as Java's ``Objects.toString`` prints the equivalent Jackson value."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    return str(value)


def _java_double(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python and Java (JDK 19+) both print the shortest round-trip digits
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits)).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


# -- secrets: resolved only when a task is handed to a worker ------------------------------


def has_secrets(value: JSON) -> bool:
    """Whether any string in ``value`` still holds a ``${workflow.secrets...}`` reference."""
    if isinstance(value, str):
        return "${workflow.secrets." in value
    if isinstance(value, dict):
        return any(has_secrets(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secrets(v) for v in value)
    return False


def resolve_secrets(value: JSON, secrets: Callable[[str], str | None]) -> JSON:
    """``value`` with ``${workflow.secrets.NAME}`` (or ``NAME.json.path``) substituted.

    A string that is exactly one reference becomes the secret (None when unknown); inside
    longer text an unknown secret becomes "" (as Conductor's substituteSecrets does).
    """
    if isinstance(value, str):
        return _secret_string(value, secrets) if "${workflow.secrets." in value else value
    if isinstance(value, dict):
        return {k: resolve_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, secrets) for v in value]
    return value


def _secret_string(text: str, secrets: Callable[[str], str | None]) -> JSON:
    whole = _SECRET.fullmatch(text)
    if whole is not None:
        return _secret(whole.group(1), secrets)
    return _SECRET.sub(lambda m: _secret_text(_secret(m.group(1), secrets)), text)


def _secret_text(value: JSON) -> str:
    return "" if value is None else to_text(value)


def _secret(ref: str, secrets: Callable[[str], str | None]) -> JSON:
    name, dot, path = ref.partition(".")
    value = secrets(name)
    if not dot or value is None:
        return value
    try:
        document = json.loads(value)
    except ValueError:
        return None
    return read_in(document, path)
