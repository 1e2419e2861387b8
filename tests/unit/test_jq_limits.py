"""jq runs in a child process with a hard time limit and a memory bound (real jq)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from orchestrator.adapters.jq_runner import JqRunner
from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.ports import ScriptError
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow

MB = 1024 * 1024


@pytest.fixture
def runner() -> Iterator[JqRunner]:
    r = JqRunner(timeout_ms=300, memory_limit_bytes=64 * MB)
    yield r
    r.close()


def test_a_runaway_program_times_out_and_the_runner_goes_on(runner: JqRunner) -> None:
    began = time.monotonic()
    with pytest.raises(ScriptError, match=r"^jq timed out after 300 ms$"):
        runner.run("def f: f; f", {})
    assert time.monotonic() - began < 3
    assert runner.run(".a + 1", {"a": 1}) == [2]


def test_a_program_that_allocates_without_bound_hits_the_memory_limit() -> None:
    r = JqRunner(timeout_ms=10_000, memory_limit_bytes=32 * MB)
    try:
        with pytest.raises(ScriptError, match="jq exceeded the memory limit of 32 MB"):
            r.run("[range(1e12)]", {})
        assert r.run("[range(3)]", {}) == [[0, 1, 2]]
    finally:
        r.close()


def test_jq_has_no_clock(runner: JqRunner) -> None:
    with pytest.raises(ScriptError, match="jq has no clock"):
        runner.run("now", {})
    assert runner.run('"2024-01-02T03:04:05Z" | fromdate', {}) == [1704164645]


def test_jq_sees_nothing_of_the_processors_environment(
    runner: JqRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")
    runner.close()  # the next child starts with the variable set in this process
    assert "KAFKA_SASL_PASSWORD" in os.environ
    assert "KAFKA_SASL_PASSWORD" not in runner.run("$ENV", {})[0]


def test_errors_and_results_are_unchanged(runner: JqRunner) -> None:
    assert runner.run(".items[] | .id", {"items": [{"id": 1}, {"id": 2}]}) == [1, 2]
    with pytest.raises(ScriptError, match="custom failure"):
        runner.run('error("custom failure")', {})
    with pytest.raises(ScriptError, match="not JSON"):
        runner.run(".", {"x": float("nan")})


def test_an_index_error_is_worded_as_conductor_words_it(runner: JqRunner) -> None:
    """JsonJQTransformSpec reads the message: jackson-jq's wording, not libjq's."""
    with pytest.raises(ScriptError) as caught:
        runner.run(".a.array", {"a": "text"})
    assert str(caught.value) == 'Cannot index string with string "array"'
    with pytest.raises(ScriptError, match=r"Cannot index object with number \(0\)"):
        runner.run(".[0]", {"a": 1})  # no known Conductor wording: left as libjq says it


def test_a_runaway_jq_task_fails_with_the_reason_and_the_workflow_goes_on() -> None:
    scripts = DefaultScriptEvaluator(timeout_ms=200)
    try:
        wf = workflow(
            "w",
            task(
                "jq",
                "JSON_JQ_TRANSFORM",
                optional=True,
                input_parameters={"queryExpression": "def f: f; f"},
            ),
            task("next"),
        )
        e = Engine.of([wf], [TaskDef(name="next")], scripts=scripts)
        e.start("w")
        assert e.t("jq").status is TaskStatus.COMPLETED_WITH_ERRORS
        assert e.t("jq").reason == "jq timed out after 200 ms"
        assert e.t("next").status is TaskStatus.SCHEDULED
        assert e.state.status is WorkflowStatus.RUNNING
    finally:
        scripts.close()
