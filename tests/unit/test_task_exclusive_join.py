"""EXCLUSIVE_JOIN: takes the result of the one SWITCH branch that ran (Conductor's rules)."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.cascade import Cascade
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.exclusive_join import ExclusiveJoinHandler, joined_task
from tests.unit.handler_kit import T0, Flow, flow, task, workflow


def _switch_then_join(case: str, default_join: tuple[str, ...] = ("d1",)) -> Flow:
    switch = task(
        "route",
        "SWITCH",
        evaluator_type="value-param",
        expression="case",
        input_parameters={"case": "${workflow.input.case}"},
        decision_cases={"a": (task("a1"), task("a2")), "b": (task("b1"),)},
        default_case=(task("d1"),),
    )
    join = task(
        "xjoin", "EXCLUSIVE_JOIN", join_on=("a2", "b1"), default_exclusive_join_task=default_join
    )
    f = flow([workflow("x", switch, join, task("after"))])
    f.start("x", {"case": case})
    return f


def _finish_branch(f: Flow, *refs: str) -> None:
    for ref in refs:
        f.report(ref, TaskStatus.COMPLETED, {"from": ref})


def test_join_input_names_its_join_on_and_default_tasks() -> None:
    f = _switch_then_join("b")
    _finish_branch(f, "b1")
    assert f.task("xjoin").input == {"joinOn": ["a2", "b1"], "defaultExclusiveJoinTask": ["d1"]}


def test_completes_with_the_output_of_the_branch_that_ran() -> None:
    f = _switch_then_join("a")
    _finish_branch(f, "a1", "a2")
    xjoin = f.task("xjoin")
    assert xjoin.status is TaskStatus.COMPLETED and xjoin.output == {"from": "a2"}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_completes_with_the_other_branch_when_that_one_ran() -> None:
    f = _switch_then_join("b")
    _finish_branch(f, "b1")
    assert f.task("xjoin").output == {"from": "b1"}


def test_falls_back_to_the_default_join_task_when_no_join_on_task_ran() -> None:
    f = _switch_then_join("zzz")
    _finish_branch(f, "d1")
    assert f.task("xjoin").output == {"from": "d1"}


def test_passes_over_a_join_on_task_that_was_skipped() -> None:
    f = _switch_then_join("a", default_join=("a1",))
    f.accept(cmd.SkipTask(workflow_id="wf-1", at=T0, actor="api:x", task_ref="a2", output={"s": 1}))
    _finish_branch(f, "a1")
    assert f.task("a2").status is TaskStatus.SKIPPED
    assert f.task("xjoin").output == {"from": "a1"}  # a2 skipped, b1 not run: the default


def test_waits_when_nothing_it_joins_on_ran_as_conductor_does() -> None:
    f = _switch_then_join("zzz", default_join=())
    _finish_branch(f, "d1")
    assert f.task("xjoin").status is TaskStatus.IN_PROGRESS
    assert f.st.status is WorkflowStatus.RUNNING


def test_fails_with_the_reason_of_a_joined_task_that_failed() -> None:
    f = _switch_then_join("b")
    f.report("b1", TaskStatus.COMPLETED)
    join = f.task("xjoin")
    b1 = f.task("b1")
    failed_b1 = replace(b1, status=TaskStatus.FAILED, reason="b1 broke")
    reopened = replace(join, status=TaskStatus.IN_PROGRESS)
    state = replace(f.st, tasks=f.st.tasks.set(b1.task_id, failed_b1).set(join.task_id, reopened))
    assert joined_task(state, reopened) == failed_b1
    c = Cascade(state, cmd.PauseWorkflow(workflow_id="wf-1", at=T0, actor="t"), f.ctx)
    ExclusiveJoinHandler().on_awaited_done(c, reopened)
    [failed] = [e for e in c.events if isinstance(e, ev.TaskFailed)]
    assert (failed.task_id, failed.reason) == (join.task_id, "b1 broke")


def test_join_inside_a_loop_iteration_reads_that_iterations_refs() -> None:
    f = _switch_then_join("b")
    _finish_branch(f, "b1")
    join = replace(f.task("xjoin"), iteration=2, status=TaskStatus.IN_PROGRESS)
    assert joined_task(f.st, join) is None  # b1__2 never ran
