"""DO_WHILE end to end on the in-memory runtime, with the real JavaScript evaluator (QuickJS)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times
from orchestrator.testing.context import dict_context


@pytest.fixture(scope="module")
def v8() -> DefaultScriptEvaluator:
    return DefaultScriptEvaluator()


def run(
    v8: DefaultScriptEvaluator,
    definition: dict[str, Any],
    workers: dict[str, Any],
    input: Any = None,
    task_defs: list[TaskDef] | None = None,
) -> WorkflowState:
    wf = parse_workflow_def(definition)
    rt = InMemoryRuntime(dict_context([wf], task_defs or [], v8), workers=workers)
    rt.submit(
        cmd.StartWorkflow(
            workflow_id="wf", at=rt.clock.now, actor="api:test", name=wf.name, input=input or {}
        )
    )
    rt.run_until_idle()
    state = rt.state("wf")
    replayed: WorkflowState | None = None
    for event in rt.events["wf"]:
        replayed = evolve(replayed, event)
    assert replayed == state  # live == replay
    return state


def loop(condition: str | None, body: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": condition,
        "loopOver": body,
        **extra,
    }


def simple(ref: str, **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, **extra}


def test_three_iterations_counted_by_the_loop_condition(v8: DefaultScriptEvaluator) -> None:
    wf = {
        "name": "count",
        "tasks": [loop("$.loop['iteration'] < 3", [simple("work")]), simple("after")],
    }
    state = run(v8, wf, {"work": always(lambda t: {"i": t.iteration}), "after": always()})
    assert state.status is WorkflowStatus.COMPLETED
    out = state.current("loop").output  # type: ignore[union-attr]
    assert out == {
        "iteration": 3,
        "1": {"work": {"i": 1}},
        "2": {"work": {"i": 2}},
        "3": {"work": {"i": 3}},
    }


def test_pagination_driven_by_the_task_output(v8: DefaultScriptEvaluator) -> None:
    pages = {1: "p2", 2: "p3", 3: None}

    def fetch(task: DispatchTask) -> dict[str, Any]:
        nxt = pages[task.iteration]
        return {"items": [task.iteration], "next": nxt, "hasMore": nxt is not None}

    body = [simple("fetch", inputParameters={"cursor": "${fetch.output.next}"})]
    wf = {"name": "pages", "tasks": [loop("$.fetch['hasMore'] == true", body)]}
    state = run(v8, wf, {"fetch": always(fetch)})
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("fetch__2").input == {"cursor": "p2"}  # type: ignore[union-attr]
    assert state.current("loop").output["iteration"] == 3  # type: ignore[union-attr]


def test_items_fan_through_the_loop_body(v8: DefaultScriptEvaluator) -> None:
    body = [simple("greet", inputParameters={"who": "${loop.output.loopItem}"})]
    wf = {"name": "each", "tasks": [loop(None, body, items="${workflow.input.people}")]}
    state = run(
        v8, wf, {"greet": always(lambda t: {"hi": t.input_data["who"]})}, {"people": ["ana", "bo"]}
    )
    out = state.current("loop").output  # type: ignore[union-attr]
    assert out["1"] == {"greet": {"hi": "ana"}} and out["2"] == {"greet": {"hi": "bo"}}
    assert (out["iteration"], out["loopIndex"], out["loopItem"]) == (2, 1, "bo")


def test_keep_last_n_bounds_the_state_over_a_thousand_iterations(
    v8: DefaultScriptEvaluator,
) -> None:
    body = [simple("work")]
    wf = {
        "name": "long",
        "tasks": [loop("$.loop['iteration'] < 1000", body, inputParameters={"keepLastN": 2})],
    }
    state = run(v8, wf, {"work": always({"x": 1})})
    assert state.status is WorkflowStatus.COMPLETED
    assert len(state.tasks) == 3  # the loop and the two iterations kept
    out = state.current("loop").output  # type: ignore[union-attr]
    assert sorted(out) == ["1000", "999", "iteration"]
    assert state.current("work__1000") is not None and state.current("work__998") is None


def test_a_fork_inside_a_loop(v8: DefaultScriptEvaluator) -> None:
    body = [
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [[simple("a")], [simple("b")]],
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
    ]
    wf = {"name": "forky", "tasks": [loop("$.loop['iteration'] < 2", body)]}
    state = run(
        v8,
        wf,
        {"a": always(lambda t: {"a": t.iteration}), "b": always(lambda t: {"b": t.iteration})},
    )
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("join__2").output == {"a__2": {"a": 2}, "b__2": {"b": 2}}  # type: ignore[union-attr]


def test_a_flaky_task_inside_a_loop_is_retried(v8: DefaultScriptEvaluator) -> None:
    wf = {"name": "flaky", "tasks": [loop("$.loop['iteration'] < 2", [simple("flaky")])]}
    state = run(
        v8,
        wf,
        {"flaky": fail_times(1, {"ok": True})},
        task_defs=[TaskDef(name="flaky", retry_count=2, retry_delay_seconds=1)],
    )
    assert state.status is WorkflowStatus.COMPLETED
    attempts = sorted(
        (t.iteration, t.retry_count, t.status)
        for t in state.tasks.values()
        if t.definition_ref == "flaky"
    )
    assert attempts == [
        (1, 0, TaskStatus.FAILED),
        (1, 1, TaskStatus.COMPLETED),
        (2, 0, TaskStatus.COMPLETED),
    ]


def test_a_script_error_fails_the_workflow_with_the_message(v8: DefaultScriptEvaluator) -> None:
    wf = {"name": "bad", "tasks": [loop("$.nope.deeper > 1", [simple("work")])]}
    state = run(v8, wf, {"work": always()})
    assert state.status is WorkflowStatus.FAILED
    assert "Unable to evaluate condition $.nope.deeper > 1, exception TypeError" in str(
        state.reason
    )
