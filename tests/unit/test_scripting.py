"""The JavaScript (QuickJS) and jq evaluators: Conductor's semantics, determinism, isolation and limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain.ports import ScriptError, ScriptEvaluator


@pytest.fixture(scope="module")
def evaluator() -> Iterator[DefaultScriptEvaluator]:
    ev = DefaultScriptEvaluator(timeout_ms=300, memory_limit_bytes=64 * 1024 * 1024)
    yield ev
    ev.close()


def test_implements_the_port(evaluator: DefaultScriptEvaluator) -> None:
    port: ScriptEvaluator = evaluator
    assert port.evaluate_js("1 + 1", {}) == 2


@pytest.mark.parametrize(
    ("script", "bindings", "expected"),
    [
        ("$.value * 2", {"value": 21}, 42),
        ("function e() { return $.a + 1 } e();", {"a": 1}, 2),
        ("(function(){ return $.items.length > 1 })()", {"items": [1, 2]}, True),
        ("$.name + '!'", {"name": "hi"}, "hi!"),
        ("({x: [1, 2.5, null], y: 3.0})", {}, {"x": [1, 2.5, None], "y": 3}),
        ("$.missing", {}, None),
        ("undefined", {}, None),
        ("if ($.n > 2) { 'big' } else { 'small' }", {"n": 3}, "big"),
        ("$.loop['iteration'] < 3", {"loop": {"iteration": 1}}, True),
        ("[1, 2, 3].map(x => x * 2)", {}, [2, 4, 6]),
        ("2 ** 40", {}, 2**40),
        ("0.1 + 0.2", {}, 0.1 + 0.2),
        ("var $ = 5; $", {}, 5),
    ],
)
def test_evaluates_like_conductor(
    evaluator: DefaultScriptEvaluator, script: str, bindings: dict[str, Any], expected: Any
) -> None:
    result = evaluator.evaluate_js(script, bindings)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("'x'.repeat(10000)", "x" * 10000),
        ("({text: $.s, n: 1})", {"text": "y" * 5000, "n": 1}),
        ("Array.from({length: 2000}, (_, i) => i)", list(range(2000))),
    ],
)
def test_long_results_come_back_whole(
    evaluator: DefaultScriptEvaluator, script: str, expected: Any
) -> None:
    # QuickJS-NG keeps long concatenated strings as "ropes", which its binding cannot read.
    assert evaluator.evaluate_js(script, {"s": "y" * 5000}) == expected


def test_source_with_a_lone_surrogate_is_evaluated(evaluator: DefaultScriptEvaluator) -> None:
    # Valid JS, and json.loads makes such definitions, but it is not UTF-8 for the binding.
    assert evaluator.evaluate_js("'\ud800' + $.s", {"s": "é"}) == "\ud800é"


def test_script_cannot_change_the_callers_bindings(evaluator: DefaultScriptEvaluator) -> None:
    bindings = {"a": {"b": 1}}
    evaluator.evaluate_js("$.a.b = 2; $.a.b", bindings)
    assert bindings == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("x.y", "ReferenceError: x is not defined"),
        ("function (", "SyntaxError"),
        ("throw new TypeError('bad input')", "TypeError: bad input"),
        ("throw 'boom'", "boom"),
        ("Date.now()", "no clock"),
        ("new Date()", "no clock"),
        ("Date()", "no clock"),
        ("typeof Temporal === 'object' ? Temporal.Now.instant() : Date.now()", "Error"),
        ("BigInt(1)", "TypeError"),
        ("(function f() { return f() })()", "RangeError: Maximum call stack size exceeded"),
        ("throw Object.create(null)", "cannot be printed"),
        ("throw new Error('first line\\nsecond line')", "^Error: first line$"),
        ("throw new Error('long '.repeat(1000))", "^Error: long long "),
        ("let a = []; for (let i = 0; i < 2000; i++) a = [a]; a", "nested too deeply"),
    ],
)
def test_errors_are_script_errors_with_a_readable_message(
    evaluator: DefaultScriptEvaluator, script: str, message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        evaluator.evaluate_js(script, {})
    assert evaluator.evaluate_js("1", {}) == 1


def test_dates_with_arguments_still_work(evaluator: DefaultScriptEvaluator) -> None:
    assert evaluator.evaluate_js("Date.UTC(2024, 0, 1)", {}) == 1704067200000
    assert evaluator.evaluate_js("new Date(Date.UTC(2024, 0, 1)).getUTCFullYear()", {}) == 2024
    assert evaluator.evaluate_js("new Date(0) instanceof Date", {}) is True


def test_math_random_is_the_same_sequence_every_evaluation(
    evaluator: DefaultScriptEvaluator,
) -> None:
    script = "[Math.random(), Math.random(), Math.random()]"
    first = evaluator.evaluate_js(script, {})
    evaluator.evaluate_js("Math.random(); Math.random()", {})
    assert evaluator.evaluate_js(script, {}) == first
    assert DefaultScriptEvaluator().evaluate_js(script, {}) == first
    assert len(set(first)) == 3 and all(0 <= x < 1 for x in first)


_ARRAY_ITERATOR = "Object.getPrototypeOf([][Symbol.iterator]())"
_TAMED_GETTER = "Object.getOwnPropertyDescriptor(Object.prototype, 'toString').get"


@pytest.mark.parametrize(
    ("polluter", "probe", "clean"),
    [
        ("leaked = 1", "typeof leaked", "undefined"),
        ("var leakedVar = 1", "typeof leakedVar", "undefined"),
        ("function leakedFn() {}", "typeof leakedFn", "undefined"),
        ("globalThis.viaGlobal = 1", "typeof viaGlobal", "undefined"),
        ("this.viaThis = 1", "typeof viaThis", "undefined"),
        ("Array.prototype.extra = 1", "typeof [].extra", "undefined"),
        ("Math.random = () => 0.5", "Math.random() === 0.5", False),
        ("JSON = null", "typeof JSON", "object"),
        ("Promise.resolve().then(() => { globalThis.late = 1 })", "typeof late", "undefined"),
        ("const k = 1", "const k = 2; k", 2),
        (
            "delete globalThis[Symbol.toStringTag]",
            "typeof globalThis[Symbol.toStringTag]",
            "string",
        ),
        ("/(b+)/.exec('abbbc')", "typeof RegExp.$1", "undefined"),
        ("(async () => { await null; globalThis.late = 1 })()", "typeof late", "undefined"),
        (
            "Error.prepareStackTrace = () => 'hijacked'",
            "new Error('m').stack.includes('hijacked')",
            False,
        ),
        ("Error.stackTraceLimit = 0", "Error.stackTraceLimit", 10),
        (  # the tamed setter refuses, and the refusal is caught
            f"try {{ {_ARRAY_ITERATOR}.next = () => ({{done: true}}) }} catch (e) {{}}",
            "[...[1, 2]]",
            [1, 2],
        ),
        (f"{_ARRAY_ITERATOR}.extra = 1", f"typeof {_ARRAY_ITERATOR}.extra", "undefined"),
        (
            "Object.getPrototypeOf(function* () {}).extra = 1",
            "typeof (function* () {}).extra",
            "undefined",
        ),
        (f"{_TAMED_GETTER}.extra = 1", f"typeof {_TAMED_GETTER}.extra", "undefined"),
        ("Object.setPrototypeOf(globalThis, {viaProto: 1})", "typeof viaProto", "undefined"),
    ],
)
def test_nothing_leaks_from_one_evaluation_to_the_next(
    polluter: str, probe: str, clean: Any
) -> None:
    evaluator = DefaultScriptEvaluator()
    evaluator.evaluate_js(polluter, {})
    assert evaluator.evaluate_js(probe, {}) == clean


def test_assigning_over_an_inherited_builtin_still_works(evaluator: DefaultScriptEvaluator) -> None:
    script = "var e = new Error('m'); e.name = 'MyError'; var o = {}; o.toString = 1; [e.name, o.toString]"
    assert evaluator.evaluate_js(script, {}) == ["MyError", 1]


def test_runaway_script_times_out_and_evaluator_stays_usable() -> None:
    evaluator = DefaultScriptEvaluator(timeout_ms=200)
    with pytest.raises(ScriptError, match="script timed out after 200 ms"):
        evaluator.evaluate_js("while (true) {}", {})
    assert evaluator.evaluate_js("$.a + 1", {"a": 1}) == 2


def test_memory_hog_hits_the_limit_and_evaluator_stays_usable() -> None:
    evaluator = DefaultScriptEvaluator(timeout_ms=5000, memory_limit_bytes=32 * 1024 * 1024)
    with pytest.raises(ScriptError, match="memory limit of 32 MB"):
        evaluator.evaluate_js("var a = []; while (true) { a.push(new Array(100000).fill(1)) }", {})
    assert evaluator.evaluate_js("$.a + 1", {"a": 1}) == 2


def test_backtracking_regex_times_out_and_evaluator_stays_usable() -> None:
    evaluator = DefaultScriptEvaluator(timeout_ms=200)
    started = time.monotonic()
    with pytest.raises(ScriptError, match="script timed out after 200 ms"):
        evaluator.evaluate_js('/(a+)+$/.test("a".repeat(40) + "!")', {})
    assert time.monotonic() - started < 5  # unbounded, it would run for days
    assert evaluator.evaluate_js("$.a + 1", {"a": 1}) == 2


@pytest.mark.parametrize(
    "script",
    [
        "try { while (true) {} } catch (e) { 'caught' }",
        "try { while (true) {} } finally { 'cleanup' }",
        "Promise.resolve().then(() => { while (true) {} }); while (true) {}",
    ],
)
def test_script_cannot_catch_its_timeout(script: str) -> None:
    evaluator = DefaultScriptEvaluator(timeout_ms=200)
    with pytest.raises(ScriptError, match="timed out"):
        evaluator.evaluate_js(script, {})
    assert evaluator.evaluate_js("1", {}) == 1


@pytest.mark.parametrize(
    "script",
    [
        "new Array(2 ** 32 - 1).join('')",
        "new Array(2 ** 32 - 1).sort()",
        "new Array(2 ** 32 - 1).reverse()",
        "Array.prototype.splice.call({length: 2 ** 53 - 1}, 0, 0, 1)",
        "[1].concat(new Array(2 ** 32 - 1))",
        "[[new Array(2 ** 32 - 1)]].flat(Infinity)",
        "[1].flatMap(() => new Array(2 ** 32 - 1))",
        "String(new Array(2 ** 32 - 1))",
    ],
)
def test_builtins_that_would_walk_billions_of_holes_refuse_instead(
    evaluator: DefaultScriptEvaluator, script: str
) -> None:
    # QuickJS does not poll the time limit inside these built-ins: unguarded, each runs minutes.
    started = time.monotonic()
    with pytest.raises(ScriptError, match=r"RangeError: .*array length .* is too large"):
        evaluator.evaluate_js(script, {})
    assert time.monotonic() - started < 5


def test_guarded_array_builtins_keep_their_results(evaluator: DefaultScriptEvaluator) -> None:
    script = """[
        [3, 1, 2].sort((a, b) => a - b).concat([9], 10).slice(1).join('-'),
        [1, [2, [3, [4]]]].flat(Infinity),
        [1, 2].flatMap(function (x) { return [x, this.k] }, {k: 0}),
        String([1, [2, 3]]), [1, 2, 3].reverse(), new Array(5).join('.'),
    ]"""
    assert evaluator.evaluate_js(script, {}) == [
        "2-3-9-10",
        [1, 2, 3, 4],
        [1, 0, 2, 0],
        "1,2,3",
        [3, 2, 1],
        "....",
    ]


def test_performance_clock_and_weak_references_are_removed(
    evaluator: DefaultScriptEvaluator,
) -> None:
    script = (
        "[typeof performance, typeof WeakRef, typeof FinalizationRegistry, typeof queueMicrotask]"
    )
    assert evaluator.evaluate_js(script, {}) == ["undefined"] * 4


@pytest.mark.parametrize(
    "script",
    [
        "Object.defineProperty(globalThis, 'pin', {value: 1}); 2",
        "Object.preventExtensions(globalThis); 2",
    ],
)
def test_script_pinning_the_global_object_fails_clearly(
    evaluator: DefaultScriptEvaluator, script: str
) -> None:
    with pytest.raises(ScriptError, match="global that cannot be removed"):
        evaluator.evaluate_js(script, {})
    assert evaluator.evaluate_js("typeof pin + (implicit = 1)", {}) == "undefined1"


def test_a_timeout_shorter_than_the_sandbox_set_up_still_evaluates() -> None:
    # The lockdown of a fresh context takes a few ms; the limit is for scripts only.
    assert DefaultScriptEvaluator(timeout_ms=1).evaluate_js("$.a + 1", {"a": 1}) == 2


def test_script_variables_cannot_shadow_the_runner(evaluator: DefaultScriptEvaluator) -> None:
    script = "var out = 1, clean = 2, json = 3, run = 4, stringify = null, parse = null; [out, run]"
    assert evaluator.evaluate_js(script, {}) == [1, 4]
    assert evaluator.evaluate_js("typeof leaked", {}) == "undefined"


def test_evaluations_from_several_threads_are_serialised(
    evaluator: DefaultScriptEvaluator,
) -> None:
    def work(offset: int) -> list[bool]:
        return [
            evaluator.evaluate_js("$.n * 2", {"n": n + offset}) == 2 * (n + offset)
            for n in range(200)
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(0, 4000, 1000)))
    assert all(all(r) for r in results)


def test_script_that_catches_running_out_of_memory_stays_within_the_limit() -> None:
    # Unlike V8's hard limit, QuickJS's "out of memory" is an ordinary, catchable error: the
    # heap never grows past the limit, but the script may carry on (documented difference).
    evaluator = DefaultScriptEvaluator(memory_limit_bytes=16 * 1024 * 1024)
    script = (
        "try { var a = []; while (true) a.push(new Array(1e5).fill(1)) } catch (e) { String(e) }"
    )
    assert evaluator.evaluate_js(script, {}) == "InternalError: out of memory"
    assert evaluator.evaluate_js("$.a + 1", {"a": 1}) == 2


def test_non_json_bindings_are_refused(evaluator: DefaultScriptEvaluator) -> None:
    with pytest.raises(ScriptError, match="not JSON"):
        evaluator.evaluate_js("1", {"x": float("nan")})


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        (".a", {"a": 1}, [1]),
        (".items[] | .id", {"items": [{"id": 1}, {"id": 2}]}, [1, 2]),
        (
            "{total: (.items | map(.price) | add)}",
            {"items": [{"price": 2}, {"price": 3}]},
            [{"total": 5}],
        ),
        ("empty", {}, []),
        (".missing", {}, [None]),
    ],
)
def test_jq_returns_all_results(
    evaluator: DefaultScriptEvaluator, query: str, value: Any, expected: list[Any]
) -> None:
    assert evaluator.evaluate_jq(query, value) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (".a[", "syntax error"),
        ('error("custom failure")', "custom failure"),
        (".a + 1", "cannot be added"),
    ],
)
def test_jq_errors_are_script_errors(
    evaluator: DefaultScriptEvaluator, query: str, message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        evaluator.evaluate_jq(query, {"a": "text"})
