"""The JavaScript sandbox of the script evaluator, on QuickJS-NG (the ``quickjs-ng`` wheel).

One QuickJS runtime+context is reused across evaluations (a fresh one plus the lockdown costs
~3 ms, an evaluation ~10 µs), so the lockdown below makes reuse safe: no clock,
seeded ``Math.random``, frozen built-ins with override taming, and removal of the globals a
script creates. ``scripting.py`` states the guarantees; this module implements them.

Limits come from the binding: ``set_time_limit`` installs an interrupt handler that QuickJS-NG
polls in the interpreter loop *and* in the regex engine, so an infinite loop and a
catastrophically backtracking regex are both stopped. It measures the process's CPU time
(C ``clock()``) from the start of each call into JS. ``set_memory_limit`` caps the runtime's
heap; an allocation over it throws "out of memory". After either, the runtime is thrown away.

The binding releases the GIL while JS runs and re-reads the stack top on every call, so a
runtime may be used from any thread as long as calls are serialised (the caller's lock).
"""

from __future__ import annotations

import json
from typing import Any

import quickjs

from orchestrator.domain.ports import ScriptError

JSON = Any
_MB = 1024 * 1024

# Runs once per runtime, in strict mode: removes clocks, seeds randomness, freezes built-ins.
# Returns the strict `run(src, inputJson)` that the evaluator calls for every evaluation.
_LOCKDOWN = r"""
(function (global, evaluate) {
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
  // `performance.now()` is a clock; weak references expose the garbage collector's timing.
  // queueMicrotask: V8 under mini-racer had none, and Promise jobs never run here anyway.
  for (const name of ["performance", "WeakRef", "FinalizationRegistry", "queueMicrotask"]) {
    delete global[name];
  }

  // QuickJS polls the time limit in the interpreter, the regex engine and most array
  // built-ins, but these walk every index below `length`, holes included, without polling:
  // `new Array(2**32 - 1).join()` would run for minutes. An array longer than MAX_LENGTH is
  // mostly holes (a dense one would not fit in the heap), so these refuse it.
  const MAX_LENGTH = 2 ** 21, AP = Array.prototype, isArray = Array.isArray;
  function check(o, name) {
    const n = Number(o.length);
    if (n > MAX_LENGTH) throw new RangeError(`${name}: array length ${n} is too large`);
  }
  function checkNested(a, depth, name) {  // what flat(depth) would descend into
    if (!(depth >= 1)) return;
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (isArray(v)) { check(v, name); checkNested(v, depth - 1, name); }
    }
  }
  function guard(name, extra) {
    const native = AP[name];
    const wrapped = {[name](...args) {  // method syntax: like the native, not a constructor
      if (this !== null && this !== undefined) check(Object(this), name);
      if (extra) args = extra(this, args, name);
      return Reflect.apply(native, this, args);
    }}[name];
    Object.defineProperty(AP, name, {value: wrapped});
  }
  for (const name of ["join", "toString", "toLocaleString", "reverse", "splice", "shift",
                      "unshift", "copyWithin", "slice", "sort"]) {
    guard(name);
  }
  guard("concat", (self, args, name) => {
    for (const a of args) {
      if (a !== null && typeof a === "object" && (isArray(a) || a[Symbol.isConcatSpreadable])) {
        check(a, name);
      }
    }
    return args;
  });
  guard("flat", (self, args, name) => {
    checkNested(Object(self), args[0] === undefined ? 1 : Math.trunc(Number(args[0])), name);
    return args;
  });
  guard("flatMap", (self, args, name) => {
    const fn = args[0], thisArg = args[1];
    if (typeof fn !== "function") return args;
    return [function (v, i, a) {
      const r = Reflect.apply(fn, thisArg, [v, i, a]);
      if (isArray(r)) check(r, name);
      return r;
    }];
  });

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
  const prototypes = new Set([Object.prototype]);
  for (const name of Object.getOwnPropertyNames(global)) {
    const v = global[name];
    if (typeof v === "function" && v.prototype) prototypes.add(v.prototype);
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
    if (prototypes.has(obj)) tame(obj);
    Object.freeze(obj);
  }
  // Every standard global, symbols included, becomes non-configurable: none can be deleted,
  // so an unchanged key count proves that a script created no global (clean's fast path).
  for (const key of Reflect.ownKeys(global)) {
    const d = Object.getOwnPropertyDescriptor(global, key);
    if ("value" in d) harden(d.value); else { harden(d.get); harden(d.set); }
    if (d.configurable) {
      Object.defineProperty(global, key,
        "value" in d ? {value: d.value, writable: false, configurable: false}
                     : {configurable: false});
    }
  }
  harden(Object.getPrototypeOf(global));
  const baseline = new Set(Reflect.ownKeys(global));
  function clean() {  // delete the globals a script made; false if one cannot be deleted
    const keys = Reflect.ownKeys(global);
    if (keys.length === baseline.size) return true;
    let ok = true;
    for (const key of keys) {
      // Reflect.deleteProperty: `delete` would throw in strict mode instead of failing
      if (!baseline.has(key) && !Reflect.deleteProperty(global, key)) ok = false;
    }
    return ok;
  }

  // Results: "1<json>" a value, "2<message>" a JS error, "3" out of memory, "0" unclean.
  const stringify = JSON.stringify, parse = JSON.parse, OOM = InternalError;
  function describe(e) {
    if (e instanceof OOM && e.message === "out of memory") return "3";
    let text;
    try { text = String(e); } catch (_) { text = "script threw a value that cannot be printed"; }
    return "2" + text.trim().split("\n")[0];
  }
  // Cleaning after each evaluation is enough: a context whose `finally` did not run (timeout,
  // out of memory) or that has queued Promise jobs is thrown away by the Python side.
  return function run(src, input) {
    seed = 0x2545F491;
    let out;
    try {
      const json = stringify(evaluate(src, parse(input)));
      out = json === undefined ? "1null" : "1" + json;
    } catch (e) {
      out = describe(e);
    } finally {
      if (!clean()) out = "0";
    }
    return out;
  };
})(globalThis,
   // Sloppy like GraalJS, and a *direct* eval so `$` is in scope and the script's var and
   // function declarations stay local to this call (nothing of the runner is in its scope).
   function (__src, $) { return eval(__src); })
"""


class UncleanContext(Exception):
    """The script left a global that cannot be removed; the caller retries on a fresh one."""


class QuickJsSandbox:
    """A reusable, locked-down QuickJS context. Not thread-safe: the caller serialises."""

    def __init__(self, timeout_ms: int, memory_limit_bytes: int) -> None:
        self._timeout_ms = timeout_ms
        self._memory_limit = memory_limit_bytes
        self._ctx: quickjs.Context | None = None
        self._run: quickjs.Object | None = None

    def run(self, source: str, input_json: str) -> JSON:
        """The script's completion value as JSON; raises ScriptError or UncleanContext."""
        run = self._runner()
        try:
            out = run(source, input_json)
        except quickjs.JSException as e:  # escaped the runner's catch: interrupted, or OOM
            self.discard()
            raise self._limit_error(_first_line(str(e))) from None
        self._drop_pending_jobs()
        if not isinstance(out, str) or not out:
            self.discard()
            raise ScriptError("script result could not be read")
        kind = out[0]
        if kind == "1":
            return json.loads(out[1:])
        if kind == "2":
            raise ScriptError(out[1:] or "script failed")
        self.discard()
        if kind == "3":
            raise ScriptError(self._memory_message())
        raise UncleanContext

    def discard(self) -> None:
        # Drop the function before its context (it keeps the runtime alive anyway).
        self._run = None
        self._ctx = None

    def _runner(self) -> quickjs.Object:
        if self._run is None:
            ctx = quickjs.Context()
            ctx.set_time_limit(self._timeout_ms / 1000)
            run = ctx.eval(_LOCKDOWN)
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
