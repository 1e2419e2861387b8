"""DO_WHILE: iterations, the loop condition and its bindings, items, keepLastN (given/when/then).

Conditions are answered by a table of Python functions of the bindings (`$`), so these tests
pin what the engine binds; tests/scenarios/test_loops_scenarios.py runs the same with the real
JavaScript evaluator (QuickJS).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.context import dict_context
from orchestrator.testing.scripts import FakeScripts
from tests.unit.handler_kit import T0, Flow, task, workflow

Binding = Mapping[str, Any]
SEEN: list[dict[str, Any]] = []  # the bindings of every evaluation, for the `then`


def _seen(fn: Callable[[Binding], Any]) -> Callable[[Binding], Any]:
    def evaluate(b: Binding) -> Any:
        SEEN.append(dict(b))
        return fn(b)

    return evaluate


JS = FakeScripts(
    js={
        "$.loop['iteration'] < 3": _seen(lambda b: b["loop"]["iteration"] < 3),
        "$.fetch['hasMore']": _seen(lambda b: b["fetch"]["hasMore"]),
        "$.loop['iteration'] < $.max": _seen(lambda b: b["loop"]["iteration"] < b["max"]),
        "$.fetch['count']": _seen(lambda b: b["fetch"]["count"]),
        "$.loopItem != 'stop'": _seen(lambda b: b["loopItem"] != "stop"),
        "broken(": _seen(lambda b: 1 / 0),
        "true": _seen(lambda b: True),
    }
)
TASK_DEFS = [
    TaskDef(name="fetch", retry_count=0),
    TaskDef(name="flaky", retry_count=1, retry_delay_seconds=0),
    TaskDef(name="after"),
    TaskDef(name="a"),
    TaskDef(name="b"),
]


def loop(
    *body: WorkflowTask, condition: str | None = "$.loop['iteration'] < 3", **kw: Any
) -> WorkflowTask:
    return task("loop", "DO_WHILE", loop_condition=condition, loop_over=body, **kw)


def run(wt: WorkflowTask, input: Any = None) -> Flow:
    SEEN.clear()
    definition: WorkflowDef = workflow("w", wt, task("after"))
    f = Flow(ctx=dict_context([definition], TASK_DEFS, JS))
    f.start("w", input or {})
    return f


def finish(f: Flow, ref: str, output: Any = None) -> None:
    decision = f.report(ref, TaskStatus.COMPLETED, output or {})
    assert not hasattr(decision, "code"), decision


def test_runs_three_iterations_with_suffixed_refs_then_goes_on():
    f = run(loop(task("fetch")))
    for n in (1, 2, 3):
        assert f.task(f"fetch__{n}").iteration == n
        finish(f, f"fetch__{n}", {"n": n})
    out = f.task("loop").output
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert out == {
        "iteration": 3,
        "1": {"fetch": {"n": 1}},
        "2": {"fetch": {"n": 2}},
        "3": {"fetch": {"n": 3}},
    }
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_the_loop_output_shows_the_running_iteration():
    f = run(loop(task("fetch")))
    finish(f, "fetch__1", {"n": 1})
    loop_task = f.task("loop")
    assert loop_task.status is TaskStatus.IN_PROGRESS
    assert loop_task.output == {"iteration": 2, "1": {"fetch": {"n": 1}}}


def test_condition_sees_task_output_loop_output_and_the_loop_input():
    body = (task("fetch"),)
    f = run(
        loop(
            *body, condition="$.fetch['hasMore']", input_parameters={"max": "${workflow.input.m}"}
        ),
        {"m": 5},
    )
    finish(f, "fetch__1", {"hasMore": True})
    finish(f, "fetch__2", {"hasMore": False})
    assert f.task("loop").output["iteration"] == 2
    assert SEEN[-1]["fetch"] == {"hasMore": False}
    assert SEEN[-1]["max"] == 5
    assert f.task("loop").status is TaskStatus.COMPLETED


def test_only_refs_the_condition_names_are_bound():
    f = run(loop(task("fetch"), task("b")))
    finish(f, "fetch__1")
    finish(f, "b__1")
    assert set(SEEN[-1]) == {"loop"}  # "fetch" and "b" appear nowhere in the condition
    assert SEEN[-1]["loop"]["1"] == {"fetch": {}, "b": {}}


def test_a_number_above_zero_continues_and_anything_else_stops():
    f = run(loop(task("fetch"), condition="$.fetch['count']"))
    finish(f, "fetch__1", {"count": 2})
    finish(f, "fetch__2", {"count": "yes"})
    assert f.task("loop").output["iteration"] == 2
    assert f.task("loop").status is TaskStatus.COMPLETED


def test_without_condition_the_body_runs_once():
    f = run(loop(task("fetch"), condition=None))
    finish(f, "fetch__1")
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("loop").output == {"iteration": 1, "1": {"fetch": {}}}


def test_a_script_error_fails_the_loop_terminally_with_conductors_message():
    f = run(loop(task("fetch"), condition="broken("))
    finish(f, "fetch__1", {"x": 1})
    loop_task = f.task("loop")
    assert loop_task.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert loop_task.reason is not None
    assert loop_task.reason.startswith("Unable to evaluate condition broken(, exception Error:")
    assert loop_task.output["1"] == {"fetch": {"x": 1}}
    assert f.st.status is WorkflowStatus.FAILED


def test_unsuffixed_refs_inside_the_loop_mean_the_latest_iteration():
    body = (task("fetch"), task("a", input_parameters={"got": "${fetch.output.n}"}))
    f = run(loop(*body))
    finish(f, "fetch__1", {"n": 1})
    assert f.task("a__1").input == {"got": 1}
    finish(f, "a__1")
    finish(f, "fetch__2", {"n": 2})
    assert f.task("a__2").input == {"got": 2}


def test_items_iterate_over_the_list_with_loop_item_and_index():
    body = (task("fetch", input_parameters={"item": "${loop.output.loopItem}"}),)
    f = run(loop(*body, condition=None, items="${workflow.input.list}"), {"list": ["x", "y", "z"]})
    for n, item in enumerate(["x", "y", "z"], start=1):
        assert f.task(f"fetch__{n}").input == {"item": item}
        assert f.task("loop").output["loopIndex"] == n - 1
        finish(f, f"fetch__{n}")
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("loop").output["iteration"] == 3


def test_items_with_a_condition_stop_at_whichever_ends_first():
    body = (task("fetch"),)
    f = run(
        loop(*body, condition="$.loopItem != 'stop'", items="${workflow.input.list}"),
        {"list": ["a", "stop", "c"]},
    )
    finish(f, "fetch__1")
    finish(f, "fetch__2")
    assert SEEN[-1]["loopIndex"] == 1 and SEEN[-1]["loopItem"] == "stop"
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("loop").output["iteration"] == 2


def test_underscore_items_in_input_parameters_work_as_orkes_spells_it():
    body = (task("fetch"),)
    f = run(
        loop(*body, condition=None, input_parameters={"_items": "${workflow.input.list}"}),
        {"list": [1, 2]},
    )
    finish(f, "fetch__1")
    finish(f, "fetch__2")
    assert f.task("loop").output["iteration"] == 2
    assert f.task("loop").status is TaskStatus.COMPLETED


def test_an_empty_item_list_completes_at_once_with_iteration_zero():
    f = run(loop(task("fetch"), condition=None, items="${workflow.input.list}"), {"list": []})
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("loop").output == {"iteration": 0}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_keep_last_n_drops_old_iterations_from_output_and_state():
    f = run(loop(task("fetch"), condition="true", input_parameters={"keepLastN": 2}))
    first_id = f.task("fetch__1").task_id
    for n in (1, 2, 3):
        finish(f, f"fetch__{n}", {"n": n})
    [removed] = f.of(ev.LoopIterationsRemoved)
    assert (removed.output_keys, removed.removed_task_ids) == (("1",), (first_id,))
    assert first_id not in f.st.tasks and f.st.current("fetch__1") is None
    out = f.task("loop").output
    assert sorted(k for k in out if k.isdigit()) == ["2", "3"]
    assert f.st.current("fetch__2") is not None


def test_keep_last_n_bounds_the_state_over_many_iterations():
    f = run(loop(task("fetch"), task("a"), condition="true", input_parameters={"keepLastN": 3}))
    for n in range(1, 201):
        finish(f, f"fetch__{n}")
        finish(f, f"a__{n}")
    assert len(f.st.tasks) == 1 + 2 * 3 + 1  # loop, 3 kept iterations, fetch__201
    assert len(f.task("loop").output) == 1 + 3  # iteration + 3 kept


def test_a_failing_task_inside_is_retried_within_its_iteration():
    f = run(loop(task("flaky")))
    f.report("flaky__1", TaskStatus.FAILED)
    retry = f.task("flaky__1")
    assert retry.retry_count == 1 and retry.iteration == 1
    finish(f, "flaky__1", {"ok": 1})
    assert f.task("loop").output["1"] == {"flaky": {"ok": 1}}
    assert f.task("flaky__2").status is TaskStatus.SCHEDULED


def test_a_task_failing_for_good_fails_the_workflow_and_cancels_the_loop():
    f = run(loop(task("fetch")))
    f.report("fetch__1", TaskStatus.FAILED, reason="down")
    assert f.st.status is WorkflowStatus.FAILED
    assert f.task("loop").status is TaskStatus.CANCELED


def test_a_workflow_retry_resumes_the_loop_at_the_failed_iteration():
    f = run(loop(task("fetch")))
    finish(f, "fetch__1", {"n": 1})
    f.report("fetch__2", TaskStatus.FAILED, reason="down")
    assert f.st.status is WorkflowStatus.FAILED
    canceled = f.task("loop")
    f.accept(cmd.RetryWorkflow(workflow_id=f.workflow_id, at=T0 + 1, actor="api:test"))
    loop_task = f.task("loop")  # reopened in place, as Conductor's retry of a CANCELED loop
    assert loop_task.status is TaskStatus.IN_PROGRESS and loop_task.retry_count == 0
    assert loop_task.task_id == canceled.task_id
    assert loop_task.output["iteration"] == 2 and f.task("fetch__2").retry_count == 1
    finish(f, "fetch__2", {"n": 2})
    finish(f, "fetch__3", {"n": 3})
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("loop").output["2"] == {"fetch": {"n": 2}}
    assert f.st.status is WorkflowStatus.RUNNING  # "after" is next


def test_a_workflow_retry_after_a_condition_error_evaluates_it_again():
    f = run(loop(task("fetch"), condition="broken("))
    finish(f, "fetch__1")
    JS.js["broken("] = lambda b: False  # the condition works now (e.g. a fixed evaluator)
    try:
        f.accept(cmd.RetryWorkflow(workflow_id=f.workflow_id, at=T0 + 1, actor="api:test"))
    finally:
        JS.js["broken("] = _seen(lambda b: 1 / 0)
    assert f.task("loop").status is TaskStatus.COMPLETED
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_a_fork_inside_the_loop_joins_per_iteration():
    fork = task("fork", "FORK_JOIN", fork_tasks=((task("a"),), (task("b"),)))
    f = run(loop(fork, task("join", "JOIN", join_on=("a", "b"))))
    for n in (1, 2):
        finish(f, f"a__{n}", {"a": n})
        assert f.task(f"join__{n}").status is TaskStatus.IN_PROGRESS
        finish(f, f"b__{n}", {"b": n})
        assert f.task(f"join__{n}").output == {f"a__{n}": {"a": n}, f"b__{n}": {"b": n}}
    assert f.task("a__3").iteration == 3
    assert f.task("loop").output["2"]["join"] == {"a__2": {"a": 2}, "b__2": {"b": 2}}


def test_a_dynamic_fork_inside_the_loop_is_dropped_with_its_iteration():
    fork = task(
        "fork",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"forkTaskName": "a", "forkTaskInputs": [1, 2]},
    )
    f = run(loop(fork, task("join", "JOIN"), condition="true", input_parameters={"keepLastN": 1}))
    finish(f, "_a_0__1")
    finish(f, "_a_1__1")
    iteration_1 = {t.task_id for t in f.st.tasks.values() if t.iteration == 1}
    assert len(iteration_1) == 4  # fork, join, two branches
    finish(f, "_fork_a_0__2")  # Conductor prefixes refs once a dynamic fork ran before
    finish(f, "_fork_a_1__2")
    assert not iteration_1 & set(f.st.tasks)


def test_replaying_the_history_gives_the_same_state():
    f = run(loop(task("flaky"), condition="true", input_parameters={"keepLastN": 1}))
    f.report("flaky__1", TaskStatus.FAILED)
    for n in (1, 2, 3):
        finish(f, f"flaky__{n}")
    replayed: WorkflowState | None = None
    for event in f.history:
        replayed = evolve(replayed, event)
    assert replayed == f.state


def _calls(fn: Callable[[], object]) -> int:
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_an_iteration_costs_the_same_at_iteration_5_and_500_with_keep_last_n():
    f = run(loop(task("fetch"), condition="true", input_parameters={"keepLastN": 2}))
    costs = {}
    for n in range(1, 501):
        if n in (5, 500):
            costs[n] = _calls(lambda n=n: finish(f, f"fetch__{n}"))
        else:
            finish(f, f"fetch__{n}")
    assert costs[500] <= costs[5] * 1.1, costs
