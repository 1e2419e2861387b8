"""The script evaluators of INLINE, SWITCH, DO_WHILE and JSON_JQ_TRANSFORM: V8 and jq.

JavaScript mirrors Conductor's javascript/graaljs evaluators: the expression is evaluated as a
script (sloppy mode) with a global-like ``$`` bound to a copy of the task input, and the
script's completion value is the result. Results come back as JSON values (via
``JSON.stringify``), so integral numbers are ints, ``undefined`` and functions are None.

Determinism (the engine replays evaluations and must get identical results):
- ``Math.random`` is a seeded PRNG, re-seeded before every evaluation, so its sequence does not
  depend on what ran before.
- There is no clock: ``Date.now()``, ``Date()`` and ``new Date()`` without arguments throw
  (``new Date(2024, 0, 1)``, ``new Date("...")`` and ``Date.UTC`` work); ``Temporal.Now``,
  timers (``setTimeout``), ``WeakRef`` and ``FinalizationRegistry`` are removed.
  Known gap: ``Intl.DateTimeFormat().format()`` with no date still reads the clock.
- No leakage: one V8 context is reused (a fresh one costs ~6 ms), so the built-ins are frozen
  once (assigning over an inherited built-in, e.g. ``err.name = "X"`` on a plain Error, still
  works thanks to accessor "override taming"), the standard globals are read-only, and globals
  a script creates are deleted before and after every evaluation. A context that cannot be
  cleaned, timed out or ran out of memory is thrown away and rebuilt.

Limits: ``timeout_ms`` per evaluation (default 1000) and ``memory_limit_bytes`` for the V8 heap
(default 64 MB); exceeding either raises ScriptError and the evaluator stays usable. jq runs in
a child process under the same two limits (jq_runner.py); there ``now`` fails and ``$ENV`` is
empty.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException, MiniRacer

from orchestrator.adapters.jq_runner import JqRunner
from orchestrator.domain.ports import ScriptError

JSON = Any
_MB = 1024 * 1024

# Runs once per context, in strict mode: removes clocks, seeds randomness, freezes built-ins.
_LOCKDOWN = r"""
(function (global) {
  "use strict";
  let seed = 0;
  function random() {  // mulberry32
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  Math.random = random;
  const RealDate = global.Date;
  function noClock() {
    throw new Error("scripts have no clock (Date.now() and new Date() without arguments are "
      + "disabled so that replays are deterministic); pass the time in the task input");
  }
  function Date(...args) {
    if (new.target === undefined || args.length === 0) noClock();
    return Reflect.construct(RealDate, args, new.target);
  }
  Object.defineProperty(Date, "prototype", {value: RealDate.prototype});
  RealDate.prototype.constructor = Date;
  Date.UTC = RealDate.UTC;
  Date.parse = RealDate.parse;
  Date.now = noClock;
  global.Date = Date;
  if (global.Temporal) delete global.Temporal.Now;
  function unavailable() { throw new Error("timers are not available in scripts"); }
  for (const name of ["setTimeout", "clearTimeout", "__timer_manager", "WeakRef",
                      "FinalizationRegistry"]) {
    if (!Reflect.deleteProperty(global, name)) {
      try { global[name] = unavailable; } catch (e) { /* read-only: leave it */ }
    }
  }

  const seen = new Set();
  function tame(proto) {  // let `obj.x = v` shadow a frozen inherited data property
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (!("value" in d) || !d.writable || !d.configurable) continue;
      const value = d.value;
      Object.defineProperty(proto, key, {
        get() { return value; },
        set(v) {
          if (this === proto) throw new TypeError("built-ins are read-only");
          Object.defineProperty(this, key,
            {value: v, writable: true, enumerable: true, configurable: true});
        },
        enumerable: d.enumerable, configurable: false,
      });
    }
  }
  function harden(obj) {
    if ((typeof obj !== "object" && typeof obj !== "function") || obj === null) return;
    if (seen.has(obj) || obj === global) return;
    seen.add(obj);
    for (const key of Reflect.ownKeys(obj)) {
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if ("value" in d) harden(d.value); else { harden(d.get); harden(d.set); }
    }
    harden(Object.getPrototypeOf(obj));
    if (key_is_prototype.has(obj)) tame(obj);
    Object.freeze(obj);
  }
  const key_is_prototype = new Set();
  for (const name of Object.getOwnPropertyNames(global)) {
    const v = global[name];
    if (typeof v === "function" && v.prototype) key_is_prototype.add(v.prototype);
  }
  key_is_prototype.add(Object.prototype);
  for (const name of Object.getOwnPropertyNames(global)) {
    harden(global[name]);
    const d = Object.getOwnPropertyDescriptor(global, name);
    if ("value" in d && d.configurable) {
      Object.defineProperty(global, name, {value: d.value, writable: false, configurable: false});
    }
  }
  harden(Object.getPrototypeOf(global));
  const baseline = new Set(Reflect.ownKeys(global));
  function clean() {  // delete the globals a script made; false if one cannot be deleted
    let ok = true;
    for (const key of Reflect.ownKeys(global)) {
      if (!baseline.has(key) && key !== "__conductor_run" && !delete global[key]) ok = false;
    }
    return ok;
  }
  return [function reset() { seed = 0x2545F491; return clean(); }, clean];
})(globalThis)
"""

# The runner must be sloppy (like GraalJS) and use a *direct* eval so `$` is in scope and the
# script's var/function declarations stay local to this call.
_RUNNER = r"""
(function (hooks) {
  const reset = hooks[0], clean = hooks[1];
  Object.defineProperty(globalThis, "__conductor_run", {value: function (__src, $) {
    if (!reset()) return "0";
    let out;
    try {
      out = JSON.stringify({v: eval(__src)});
    } finally {
      if (!clean()) out = "0";
    }
    return "1" + out;
  }});
})
"""


class DefaultScriptEvaluator:
    """ScriptEvaluator on mini-racer (V8) and jq; thread-safe (evaluations are serialised)."""

    def __init__(self, timeout_ms: int = 1000, memory_limit_bytes: int = 64 * _MB) -> None:
        self._timeout_ms = timeout_ms
        self._memory_limit = memory_limit_bytes
        self._lock = threading.Lock()
        self._ctx: MiniRacer | None = None
        self._jq = JqRunner(timeout_ms, memory_limit_bytes)

    def evaluate_js(self, expression: str, bindings: Mapping[str, JSON]) -> JSON:
        try:
            payload = json.dumps(json.dumps(dict(bindings), allow_nan=False))
        except (TypeError, ValueError) as e:
            raise ScriptError(f"script input is not JSON: {e}") from None
        code = f"__conductor_run({json.dumps(expression)}, JSON.parse({payload}))"
        with self._lock:
            out = self._run(code)
        if out == "0":  # a global the script made could not be removed: start afresh
            self._discard()
            out = self._run(code)
            if out == "0":
                raise ScriptError("script defines a global that cannot be removed")
        return json.loads(out[1:]).get("v")

    def evaluate_jq(self, query: str, value: JSON) -> list[JSON]:
        """Run in a child process, bounded by the same time and memory limits (jq_runner.py)."""
        return self._jq.run(query, value)

    def close(self) -> None:
        self._discard()
        self._jq.close()

    def _run(self, code: str) -> str:
        ctx = self._context()
        try:
            out = ctx.eval(code, timeout_sec=self._timeout_ms / 1000)
        except JSTimeoutException:
            self._discard()  # the script's cleanup never ran
            raise ScriptError(f"script timed out after {self._timeout_ms} ms") from None
        except (JSOOMException, JSEvalException) as e:
            if isinstance(e, JSOOMException) or ctx.was_hard_memory_limit_reached():
                self._discard()
                limit = self._memory_limit // _MB
                raise ScriptError(f"script exceeded the memory limit of {limit} MB") from None
            raise ScriptError(_js_message(e)) from None
        if not isinstance(out, str):
            raise ScriptError("script result could not be read")
        return out

    def _context(self) -> MiniRacer:
        if self._ctx is None:
            ctx = _racer_with_own_loop()
            ctx.eval(f"{_RUNNER}({_LOCKDOWN})")
            ctx.set_hard_memory_limit(self._memory_limit)
            self._ctx = ctx
        return self._ctx

    def _discard(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None


def _racer_with_own_loop() -> MiniRacer:
    """A MiniRacer on its own event-loop thread. Made inside a running asyncio loop (the
    processor decides inside faust's), MiniRacer would adopt that loop, and its eval then
    refuses a timeout (AssertionError); made in a thread with no loop, it starts its own."""
    made: list[MiniRacer | BaseException] = []

    def make() -> None:
        try:
            made.append(MiniRacer())
        except BaseException as e:  # handed to the caller's thread
            made.append(e)

    thread = threading.Thread(target=make, name="mini-racer-init")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def _js_message(error: Exception) -> str:
    """The first line of a V8 error without its "undefined:1: " location prefix."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else "script failed"
    head, sep, rest = first.partition(": ")
    if sep and head.startswith(("undefined:", "<anonymous>:")):
        return rest
    return first
