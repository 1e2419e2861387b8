"""The JavaScript sandbox of the script evaluator, on QuickJS-NG (the ``quickjs-ng`` wheel).

One QuickJS runtime+context is reused across evaluations (a fresh one plus the lockdown costs
~3 ms, an evaluation ~10 µs), so the lockdown (js_lockdown.py) makes reuse safe: no clock,
seeded ``Math.random``, frozen built-ins with override taming, and removal of the globals a
script creates. ``scripting.py`` states the guarantees; this module implements them.

Limits come from the binding: ``set_time_limit`` installs an interrupt handler that QuickJS-NG
polls in the interpreter loop *and* in the regex engine, so an infinite loop and a
catastrophically backtracking regex are both stopped. It measures the process's CPU time
(C ``clock()``) from the start of each call into JS. ``set_memory_limit`` caps the runtime's
heap; an allocation over it throws "out of memory". After either, the runtime is thrown away.

The binding releases the GIL while JS runs and re-reads the stack top (JS_UpdateStackTop) on
every call into JS, so a runtime may be used from any thread as long as calls are serialised
(the caller's lock). Its docs call a shared Context unsafe: concurrent use is, serialised is not.
"""

from __future__ import annotations

import json
from typing import Any

import quickjs

from orchestrator.adapters.js_lockdown import LOCKDOWN
from orchestrator.domain.ports import ScriptError

JSON = Any
_MB = 1024 * 1024


class UncleanContext(Exception):
    """The script left the global object in a state that cannot be undone (a global that
    cannot be deleted, a non-extensible global object); the context is already discarded."""


class QuickJsSandbox:
    """A reusable, locked-down QuickJS context. Not thread-safe: the caller serialises."""

    def __init__(self, timeout_ms: int, memory_limit_bytes: int) -> None:
        self._timeout_ms = timeout_ms
        self._memory_limit = memory_limit_bytes
        self._ctx: quickjs.Context | None = None
        self._run: quickjs.Object | None = None

    def run(self, source: str, input_json: str) -> JSON:
        """The script's completion value as JSON; raises ScriptError or UncleanContext."""
        out = self._call(source, input_json)
        self._drop_pending_jobs()
        try:
            result = json.loads(out)
        except RecursionError:  # JSON.stringify nests deeper than Python's json can read
            raise ScriptError("script result is nested too deeply") from None
        if isinstance(result, list):
            return result[0]
        if isinstance(result, str):
            raise ScriptError(result or "script failed")
        self.discard()
        if result == 3:
            raise ScriptError(self._memory_message())
        raise UncleanContext

    def discard(self) -> None:
        # Drop the function before its context (it keeps the runtime alive anyway).
        self._run = None
        self._ctx = None

    def _call(self, source: str, input_json: str) -> str:
        """The runner's JSON answer. The source travels as a string, which the binding must
        encode as UTF-8: one with lone surrogates (valid in JS) goes JSON-encoded instead."""
        source_is_json = not source.isascii() and not _is_utf8_encodable(source)
        if source_is_json:
            source = json.dumps(source)
        runner = self._runner()
        try:
            out = runner(source, input_json, source_is_json)
        except quickjs.JSException as e:  # escaped the runner's catch: interrupted, or OOM
            failure = self._limit_error(_first_line(str(e)))
        except Exception as e:  # a binding failure must not take the caller down
            failure = ScriptError(f"script result could not be read: {e}")
        else:
            if isinstance(out, str) and out:
                return out
            failure = ScriptError("script result could not be read")
        del runner
        self.discard()
        raise failure

    def _runner(self) -> quickjs.Object:
        if self._run is None:
            ctx = quickjs.Context()
            run = ctx.eval(LOCKDOWN)  # before the limits: scripts' limits, not the lockdown's
            ctx.set_time_limit(self._timeout_ms / 1000)
            ctx.set_memory_limit(self._memory_limit)
            self._ctx, self._run = ctx, run
        return self._run

    def _drop_pending_jobs(self) -> None:
        """Promise callbacks a script queued never run in QuickJS unless asked, and would pile
        up in the runtime. If there is one, throw the context away; under a zero time limit
        the one job that this check starts is interrupted almost at once."""
        ctx = self._ctx
        if ctx is None:
            return
        ctx.set_time_limit(0)
        try:
            had_job = ctx.execute_pending_job()
        except quickjs.JSException:
            had_job = True
        finally:
            ctx.set_time_limit(self._timeout_ms / 1000)
        if had_job:
            self.discard()

    def _limit_error(self, message: str) -> ScriptError:
        if message.endswith("interrupted"):
            return ScriptError(f"script timed out after {self._timeout_ms} ms")
        if message.endswith("out of memory") or "Failed obtaining" in message:
            return ScriptError(self._memory_message())
        return ScriptError(message)

    def _memory_message(self) -> str:
        return f"script exceeded the memory limit of {self._memory_limit // _MB} MB"


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else "script failed"


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
