"""The V8 and jq evaluators: Conductor's semantics, determinism, isolation and limits."""

from __future__ import annotations

from collections.abc import Iterator
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
    ],
)
def test_errors_are_script_errors_with_a_readable_message(
    evaluator: DefaultScriptEvaluator, script: str, message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        evaluator.evaluate_js(script, {})


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
