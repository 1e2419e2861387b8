"""DYNAMIC: the task named by `dynamicTaskNameParam` runs in its place, or it fails clearly."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, TaskType
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.unit.handler_kit import T0, Flow, flow, task, workflow

SHIP = TaskDef(name="ship", retry_count=1, retry_delay_seconds=0)


def _dynamic(choice: object, optional: bool = False, **params: object) -> Flow:
    dyn = task(
        "pick",
        "DYNAMIC",
        name="dynamic_task",
        dynamic_task_name_param="taskToRun",
        input_parameters={"taskToRun": "${workflow.input.choice}", "item": 3, **params},
        optional=optional,
    )
    f = flow([workflow("dyn", dyn, task("after"))], [SHIP, TaskDef(name="after")])
    f.start("dyn", {"choice": choice})
    return f


def test_resolves_to_the_registered_task_and_dispatches_it_to_that_queue() -> None:
    f = _dynamic("ship")
    pick = f.task("pick")
    assert (pick.kind, pick.task_type, pick.name) == (TaskType.SIMPLE, "ship", "ship")
    assert pick.task_def == SHIP
    assert pick.input == {"taskToRun": "ship", "item": 3}
    [scheduled] = f.of(ev.TaskScheduled)
    assert scheduled.dynamic_task is not None and scheduled.dynamic_task.name == "ship"
    [dispatch] = [e for e in f.effects if isinstance(e, DispatchTask)]
    assert (dispatch.task_type, dispatch.reference_task_name) == ("ship", "pick")


def test_the_resolved_task_completes_and_the_workflow_goes_on() -> None:
    f = _dynamic("ship")
    f.report("pick", TaskStatus.COMPLETED, {"shipped": True})
    assert f.task("pick").output == {"shipped": True}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_a_retry_runs_the_same_resolved_task_under_its_task_def() -> None:
    f = _dynamic("ship")
    f.report("pick", TaskStatus.FAILED, reason="crane down")
    retry = f.task("pick")
    assert (retry.retry_count, retry.task_type, retry.kind) == (1, "ship", TaskType.SIMPLE)


def test_resolves_to_a_system_task_type() -> None:
    f = _dynamic("WAIT", duration="1s")
    pick = f.task("pick")
    assert (pick.kind, pick.task_type, pick.status) == (
        TaskType.WAIT,
        "WAIT",
        TaskStatus.IN_PROGRESS,
    )
    [timer] = f.timers()
    f.fire(timer, at=T0 + 1000)
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_missing_name_fails_the_task_with_a_clear_reason() -> None:
    f = _dynamic(None)
    pick = f.task("pick")
    assert (pick.kind, pick.status) == (TaskType.DYNAMIC, TaskStatus.FAILED)
    assert str(pick.reason).startswith(
        "Cannot map a dynamic task based on the parameter and input. Parameter= taskToRun"
    )
    assert f.st.status is WorkflowStatus.FAILED


def test_name_without_task_def_fails_the_task_with_a_clear_reason() -> None:
    f = _dynamic("teleport")
    assert f.task("pick").reason == (
        "Invalid task specified. Cannot find task by name teleport in the task definitions"
    )
    assert not [e for e in f.effects if isinstance(e, DispatchTask)]


def test_control_flow_types_cannot_be_chosen_at_run_time() -> None:
    f = _dynamic("FORK_JOIN")
    assert "cannot run as a FORK_JOIN task" in str(f.task("pick").reason)


def test_optional_dynamic_task_that_cannot_resolve_completes_with_errors() -> None:
    f = _dynamic("teleport", optional=True)
    assert f.task("pick").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_workflow_retry_resolves_the_name_again() -> None:
    f = _dynamic("teleport")
    registered = f.ctx.task_def  # the TaskDef is registered after the failure
    f.ctx = replace(f.ctx, task_def=lambda n: TaskDef(name=n) if n == "teleport" else registered(n))
    f.accept(cmd.RetryWorkflow(workflow_id="wf-1", at=T0 + 1, actor="api:x"))
    assert (f.task("pick").kind, f.task("pick").task_type) == (TaskType.SIMPLE, "teleport")
