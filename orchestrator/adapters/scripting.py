"""The script evaluators of INLINE, SWITCH, DO_WHILE and JSON_JQ_TRANSFORM: QuickJS and jq.

JavaScript mirrors Conductor's javascript/graaljs evaluators: the expression is evaluated as a
script (sloppy mode) with a global-like ``$`` bound to a copy of the task input, and the
script's completion value is the result. Results come back as JSON values (via
``JSON.stringify``), so integral numbers are ints, ``undefined`` and functions are None.
The engine is QuickJS-NG (js_quickjs.py): an evaluation costs ~10 µs of CPU (plus ~25 µs per
KB of input, JSON both ways) where V8 through mini-racer cost ~200-350 µs. Differences from V8:
no ``Intl`` (``toLocaleString`` and ``localeCompare`` are not locale-aware); error messages in
QuickJS's wording (``cannot read property 'x' of null``, V8: ``Cannot read properties of
null``); no legacy ``RegExp.$1``; "out of memory" is a catchable error (the heap still never
passes the limit); and the Array built-ins that walk every index up to ``length`` (join, sort,
reverse, splice, concat, slice, flat, ...) refuse arrays longer than 2**21 with a RangeError,
because QuickJS cannot interrupt them (on ``new Array(2**32 - 1)`` they would run for minutes).

Determinism (the engine replays evaluations and must get identical results):
- ``Math.random`` is a seeded PRNG, re-seeded before every evaluation, so its sequence does not
  depend on what ran before.
- There is no clock: ``Date.now()``, ``Date()`` and ``new Date()`` without arguments throw
  (``new Date(2024, 0, 1)``, ``new Date("...")`` and ``Date.UTC`` work); ``performance``,
  ``WeakRef`` and ``FinalizationRegistry`` are removed and there are no timers. Promise
  callbacks never run (a context where a script queued one is thrown away).
- No leakage: one QuickJS context is reused, so the built-ins are frozen once, including the
  intrinsics no global names (generator, async function and iterator prototypes) and
  ``Error.prepareStackTrace``/``stackTraceLimit`` (accessors in QuickJS-NG, fixed values here).
  Assigning over an inherited built-in, e.g. ``err.name = "X"`` on a plain Error, still works
  thanks to accessor "override taming". The standard globals are read-only; after every
  evaluation the globals a script created are deleted and the global object's prototype is
  restored. A context that cannot be cleaned (a non-configurable global, a non-extensible
  global object: the script then fails), timed out or ran out of memory is thrown away and
  rebuilt.

Limits: ``timeout_ms`` per evaluation (default 1000), which also stops a backtracking regex,
measured in the process's CPU time (so busy threads elsewhere in the process shorten it, a busy
machine does not lengthen it; one built-in call on data near the memory limit can overrun it by
a fraction of a second, e.g. sorting millions of numbers); and ``memory_limit_bytes`` for the
JS heap (default 64 MB). Exceeding either raises ScriptError and the evaluator stays usable.
A result nested deeper than Python's json can read is a ScriptError too. jq runs in a child
process under the same two limits (jq_runner.py); there ``now`` fails and ``$ENV`` is empty.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from orchestrator.adapters.jq_runner import JqRunner
from orchestrator.adapters.js_quickjs import QuickJsSandbox, UncleanContext
from orchestrator.domain.ports import ScriptError

JSON = Any
_MB = 1024 * 1024


class DefaultScriptEvaluator:
    """ScriptEvaluator on QuickJS and jq; thread-safe (evaluations are serialised)."""

    def __init__(self, timeout_ms: int = 1000, memory_limit_bytes: int = 64 * _MB) -> None:
        self._lock = threading.Lock()
        self._js = QuickJsSandbox(timeout_ms, memory_limit_bytes)
        self._jq = JqRunner(timeout_ms, memory_limit_bytes)

    def evaluate_js(self, expression: str, bindings: Mapping[str, JSON]) -> JSON:
        try:
            payload = json.dumps(dict(bindings), allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise ScriptError(f"script input is not JSON: {e}") from None
        with self._lock:
            try:
                return self._js.run(expression, payload)
            except UncleanContext:  # the script's changes to globals could not be undone: afresh
                pass
            try:
                return self._js.run(expression, payload)
            except UncleanContext:
                raise ScriptError(
                    "script defines a global that cannot be removed"
                    " or makes the global object non-extensible"
                ) from None

    def evaluate_jq(self, query: str, value: JSON) -> list[JSON]:
        """Run in a child process, bounded by the same time and memory limits (jq_runner.py)."""
        return self._jq.run(query, value)

    def close(self) -> None:
        with self._lock:
            self._js.discard()
        self._jq.close()
