"""The JavaScript run once in each QuickJS context before any script (js_quickjs.py uses it).

It removes the clocks, seeds ``Math.random``, freezes every built-in (override-tamed, so that
``obj.x = v`` can still shadow an inherited built-in) and returns the ``run`` function that
evaluates one script and deletes the globals it created. Freezing must reach every object a
later script could reach, or one script could change what the next one sees: that includes
the intrinsics no global names (the generator and iterator prototypes) and the accessors that
keep state in the engine rather than in an object (``Error.prepareStackTrace``).
"""

LOCKDOWN = r"""
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
  // QuickJS-NG keeps these in the context behind accessors on Error, which freezing does not
  // stop: a function one script set would format the stacks of every later script.
  for (const name of ["prepareStackTrace", "stackTraceLimit"]) {
    const d = Object.getOwnPropertyDescriptor(Error, name);
    if (d && d.get) Object.defineProperty(Error, name, {value: d.get.call(Error)});
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
      const accessor = {
        get() { return value; },
        set(v) {
          if (this === proto) throw new TypeError("built-ins are read-only");
          Object.defineProperty(this, key,
            {value: v, writable: true, enumerable: true, configurable: true});
        },
      };
      // Reachable through getOwnPropertyDescriptor: frozen like every other built-in.
      Object.freeze(accessor.get);
      Object.freeze(accessor.set);
      Object.defineProperty(proto, key, {
        get: accessor.get, set: accessor.set, enumerable: d.enumerable, configurable: false,
      });
    }
  }
  // The intrinsics that no global names: the prototypes of generator and async functions
  // (harden reaches their constructors and instance prototypes) and of the iterators.
  const hidden = [
    function* () {}, async function () {}, async function* () {},
    [][Symbol.iterator](), new Map()[Symbol.iterator](), new Set()[Symbol.iterator](),
    ""[Symbol.iterator](), "".matchAll(/(?:)/g), [].values().map(x => x),
    Iterator.from({next() {}}),
  ].map(Object.getPrototypeOf);
  const prototypes = new Set([Object.prototype, ...hidden]);
  for (const h of hidden) {
    if (Object.hasOwn(h, "prototype")) prototypes.add(h.prototype);
  }
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
  hidden.forEach(harden);
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
  const globalProto = Object.getPrototypeOf(global);
  harden(globalProto);
  const baseline = new Set(Reflect.ownKeys(global));
  function clean() {  // undo what a script did to the global object; false if it cannot be
    // A global object made non-extensible cannot be made extensible again; a replaced
    // prototype would lend its properties to every later script as globals.
    if (!Object.isExtensible(global)) return false;
    if (Object.getPrototypeOf(global) !== globalProto
        && !Reflect.setPrototypeOf(global, globalProto)) return false;
    const keys = Reflect.ownKeys(global);
    if (keys.length === baseline.size) return true;
    let ok = true;
    for (const key of keys) {
      // Reflect.deleteProperty: `delete` would throw in strict mode instead of failing
      if (!baseline.has(key) && !Reflect.deleteProperty(global, key)) ok = false;
    }
    return ok;
  }

  // Every result is JSON made by JSON.stringify: a value as `[value]`, a JS error as its
  // message string, 3 out of memory, 0 unclean. Never build it by concatenation: QuickJS-NG
  // makes long concatenations "ropes", which the Python binding cannot read.
  const stringify = JSON.stringify, parse = JSON.parse, OOM = InternalError;
  function describe(e) {
    if (e instanceof OOM && e.message === "out of memory") return "3";
    let text;
    try { text = String(e); } catch (_) { text = "script threw a value that cannot be printed"; }
    return stringify(text.trim().split("\n")[0]);
  }
  // Cleaning after each evaluation is enough: a context whose `finally` did not run (timeout,
  // out of memory) or that has queued Promise jobs is thrown away by the Python side.
  // `srcIsJson`: the source comes JSON-encoded when it holds lone surrogates (not UTF-8).
  return function run(src, input, srcIsJson) {
    seed = 0x2545F491;
    let out;
    try {
      out = stringify([evaluate(srcIsJson ? parse(src) : src, parse(input))]);
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
