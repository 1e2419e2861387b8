"""What the pure core asks of the outside world: script evaluation.

The real implementation (QuickJS-NG through the quickjs-ng wheel, jq through the jq bindings)
lives in
``orchestrator/adapters/scripting.py``; it must be deterministic (same script and bindings,
same result, whatever ran before) and bounded in time and memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

JSON = Any


class ScriptError(Exception):
    """A script or query failed; the message is meant for the workflow's user.

    E.g. "script timed out after 1000 ms" or "ReferenceError: x is not defined".
    """


class ScriptEvaluator(Protocol):
    def evaluate_js(self, expression: str, bindings: Mapping[str, JSON]) -> JSON:
        """Evaluate JavaScript with ``$`` bound to ``bindings``; the script's completion value.

        As Conductor's javascript/graaljs evaluators: the expression is run as a script (not a
        function body), so ``$.a + 1``, ``function e() { return $.a } e();`` and
        ``(function(){ return 1 })()`` all work. Raises ScriptError.
        """
        ...

    def evaluate_jq(self, query: str, value: JSON) -> list[JSON]:
        """All results of the jq ``query`` run over ``value``. Raises ScriptError."""
        ...
