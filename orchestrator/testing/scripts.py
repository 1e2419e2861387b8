"""A ScriptEvaluator for tests: JavaScript answered from a table (expression -> function of the
bindings), jq run by the jq library. Deterministic and free of a JS engine, so engine tests do
not depend
on the scripting adapter (which has its own tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.domain.ports import ScriptError

JSON = Any


@dataclass
class FakeScripts:
    js: dict[str, Callable[[Mapping[str, JSON]], JSON]] = field(default_factory=dict)

    def evaluate_js(self, expression: str, bindings: Mapping[str, JSON]) -> JSON:
        fn = self.js.get(expression)
        if fn is None:
            raise ScriptError(f"ReferenceError: no fake for {expression!r}")
        try:
            return fn(bindings)
        except Exception as error:  # a fake's failure plays a script's exception
            raise ScriptError(f"Error: {error}") from error

    def evaluate_jq(self, query: str, value: JSON) -> list[JSON]:
        import jq

        try:
            return list(jq.compile(query).input_value(value).all())
        except ValueError as error:
            raise ScriptError(str(error)) from error
