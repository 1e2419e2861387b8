"""Given/when/then: Conductor's failure semantics (permissive tasks, failure workflows, failed
task names, restarts, invalid dynamic forks) and ${CPEWF_TASK_ID}."""

from __future__ import annotations

import dataclasses

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import EmitCommand
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow


def test_cpewf_task_id_resolves_to_the_id_of_the_task_being_scheduled() -> None:
    wf = workflow("c", task("a", input_parameters={"me": "${CPEWF_TASK_ID}", "x": "${a.taskId}"}))
    e = Engine.of([wf], [TaskDef(name="a")])
    e.start("c")
    a = e.t("a")
    assert a.input == {"me": a.task_id, "x": None}  # `a` is not in the workflow yet


def test_a_retry_resolves_the_input_parameters_again_over_the_previous_input() -> None:
    """Conductor's DeciderService.retry: the new attempt's input is the old one with the
    inputParameters resolved again (its own CPEWF_TASK_ID, variables as they are now)."""
    wf = workflow(
        "r",
        task("a", input_parameters={"me": "${CPEWF_TASK_ID}", "v": "${workflow.variables.v}"}),
        variables={"v": 1},
    )
    e = Engine.of([wf], [TaskDef(name="a", retry_count=1, retry_delay_seconds=0)])
    e.start("r")
    first = e.t("a")
    e.report("a", TaskStatus.FAILED)
    second = e.t("a")
    assert second.task_id != first.task_id
    assert second.input == {"me": second.task_id, "v": 1}
    assert e.state.status is WorkflowStatus.RUNNING


def test_a_workflow_retry_gives_the_new_attempt_its_own_task_id() -> None:
    wf = workflow("r", task("a", input_parameters={"me": "${CPEWF_TASK_ID}"}))
    e = Engine.of([wf], [TaskDef(name="a", retry_count=0)])
    e.start("r")
    e.report("a", TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.FAILED
    e.op(cmd.RetryWorkflow)
    assert e.t("a").input == {"me": e.t("a").task_id}


# --- restart of a non-restartable definition (SimpleWorkflowSpec "non restartable") -----------

NON_RESTARTABLE = workflow("nr", task("a"), restartable=False)


def _ended(status: TaskStatus) -> Engine:
    e = Engine.of([NON_RESTARTABLE], [TaskDef(name="a", retry_count=0)])
    e.start("nr")
    e.report("a", status)
    return e


def test_a_failed_workflow_of_a_non_restartable_definition_may_be_restarted() -> None:
    e = _ended(TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.FAILED
    assert e.events_of(e.op(cmd.RestartWorkflow)) == ["WorkflowRestarted", "TaskScheduled"]
    assert e.state.status is WorkflowStatus.RUNNING


def test_a_completed_workflow_of_a_non_restartable_definition_is_refused() -> None:
    e = _ended(TaskStatus.COMPLETED)
    rejected = e.rejected(e.op(cmd.RestartWorkflow))
    assert rejected.code is RejectionCode.NOT_RESTARTABLE
    assert rejected.reason == "Workflow: nr.1/wf-1.COMPLETED is non-restartable"


def test_restart_with_the_latest_definition_asks_that_definition() -> None:
    e = _ended(TaskStatus.COMPLETED)
    latest = workflow("nr", task("a"), version=2)
    decision = e.op(cmd.RestartWorkflow, use_latest_definition=True, definition=latest)
    assert e.events_of(decision) == ["WorkflowRestarted", "TaskScheduled"]
    e.report("a")
    assert e.state.status is WorkflowStatus.COMPLETED
    strict = workflow("nr", task("a"), version=3, restartable=False)
    refused = e.op(cmd.RestartWorkflow, use_latest_definition=True, definition=strict)
    assert e.rejected(refused).code is RejectionCode.NOT_RESTARTABLE


# --- failedReferenceTaskNames / failedTaskNames (SimpleWorkflowSpec) --------------------------

LINEAR = workflow("linear", task("t1", name="integration_task_1"), task("t2", name="task_2"))


def _linear(retries: int = 0) -> Engine:
    e = Engine.of(
        [LINEAR],
        [
            TaskDef(name="integration_task_1", retry_count=retries, retry_delay_seconds=0),
            TaskDef(name="task_2", retry_count=0),
        ],
    )
    e.start("linear")
    return e


def _names(e: Engine) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    return e.state.failed_ref_names, e.state.failed_task_names


def test_a_terminal_error_names_the_failed_task() -> None:
    e = _linear(retries=1)
    e.report("t1", TaskStatus.FAILED_WITH_TERMINAL_ERROR, reason="down")
    ended = e.history[-1]
    assert isinstance(ended, ev.WorkflowFailed)
    assert (ended.failed_ref_names, ended.failed_task_names) == (("t1",), ("integration_task_1",))
    assert _names(e) == (("t1",), ("integration_task_1",))


def test_names_are_recorded_only_when_the_workflow_ends() -> None:
    e = _linear(retries=1)
    e.report("t1", TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.RUNNING and _names(e) == (None, None)
    e.report("t1")
    e.report("t2")
    assert e.state.status is WorkflowStatus.COMPLETED
    assert _names(e) == (("t1",), ("integration_task_1",))  # a failed attempt counts


def test_timed_out_and_canceled_tasks_are_not_named() -> None:
    e = _linear()
    e.ack("t1")
    e.fire(cmd.TimerKind.RESPONSE_TIMEOUT, "t1", e.now + 3_600_000)
    assert e.state.status is WorkflowStatus.TIMED_OUT
    assert _names(e) == ((), ())


def test_retry_and_restart_keep_the_names_and_later_ends_add_to_them() -> None:
    e = _linear()
    e.report("t1", TaskStatus.FAILED)
    e.op(cmd.RetryWorkflow)
    assert e.state.status is WorkflowStatus.RUNNING
    assert _names(e) == (("t1",), ("integration_task_1",))  # kept while it runs again
    e.report("t1")
    e.report("t2", TaskStatus.FAILED)
    assert _names(e) == (("t1", "t2"), ("integration_task_1", "task_2"))
    e.op(cmd.RestartWorkflow)
    e.report("t1")
    e.report("t2")
    assert e.state.status is WorkflowStatus.COMPLETED
    assert _names(e) == (("t1", "t2"), ("integration_task_1", "task_2"))


def test_rerun_clears_the_names() -> None:
    e = _linear()
    e.report("t1")
    e.report("t2", TaskStatus.FAILED)
    e.op(cmd.RerunWorkflow, from_task_id=e.t("t2").task_id)
    assert _names(e) == (None, None)
    e.report("t2")
    assert _names(e) == ((), ())


def test_an_end_event_written_before_the_names_existed_leaves_them_unrecorded() -> None:
    e = _linear()
    e.report("t1", TaskStatus.FAILED)
    old = dataclasses.replace(e.history[-1], failed_ref_names=None, failed_task_names=None)
    before = e.state
    replayed = evolve(evolve(None, e.history[0]), e.history[1])
    for event in [*e.history[2:-1], old]:
        replayed = evolve(replayed, event)
    assert replayed.failed_ref_names is None and replayed.failed_task_names is None
    recorded = dataclasses.replace(
        replayed, failed_ref_names=("t1",), failed_task_names=("integration_task_1",)
    )
    assert recorded == before


# --- the failure workflow's start (WorkflowExecutor.terminateWorkflow) ------------------------


def _failure_start(e: Engine) -> cmd.StartWorkflow:
    (start,) = [f.command for f in e.effects if isinstance(f, EmitCommand)]
    assert isinstance(start, cmd.StartWorkflow)
    return start


def test_the_failure_workflow_gets_the_failed_workflow_and_its_task_to_domain() -> None:
    wf = workflow("main", task("a"), failure_workflow="cleanup")
    e = Engine.of([wf], [TaskDef(name="a", retry_count=0)])
    e.start("main", {"order": 1}, correlation_id="c-1", task_to_domain={"a": "blue"})
    e.report("a", TaskStatus.FAILED, output={"partial": 1}, reason="nope")
    start = _failure_start(e)
    assert (start.correlation_id, start.task_to_domain) == ("c-1", {"a": "blue"})
    failed = start.input["failedWorkflow"]
    assert failed["workflowId"] == "wf-1" and failed["status"] == "FAILED"
    assert failed["failedTaskId"] == e.t("a").task_id
    assert failed["output"] == {"partial": 1}  # without its conductor.failure_workflow key
    assert [(t["referenceTaskName"], t["status"]) for t in failed["tasks"]] == [("a", "FAILED")]
    assert e.state.output == {"partial": 1, "conductor.failure_workflow": start.workflow_id}


def test_without_a_failed_task_the_failure_input_has_no_failure_task_id() -> None:
    wf = workflow("main", task("a"), failure_workflow="cleanup")
    e = Engine.of([wf], [TaskDef(name="a")])
    e.start("main")
    e.op(cmd.TerminateWorkflow, reason="stop", trigger_failure_workflow=True)
    start = _failure_start(e)
    assert "failureTaskId" not in start.input
    assert start.input["failureStatus"] == "TERMINATED" and start.input["reason"] == "stop"


# --- permissive tasks ---------------------------------------------------------------------------

PERMISSIVE = workflow("perm", task("p", name="perm_task", permissive=True), task("t2", name="b"))


def test_a_permissive_failure_is_permitted_and_the_workflow_goes_on() -> None:
    e = Engine.of([PERMISSIVE], [TaskDef(name="perm_task", retry_count=0), TaskDef(name="b")])
    e.start("perm")
    decision = e.report("p", TaskStatus.FAILED, reason="nope")
    assert e.events_of(decision) == ["TaskFailed", "TaskFailurePermitted", "TaskScheduled"]
    assert e.t("p").status is TaskStatus.FAILED
    assert e.events_of(e.report("t2")) == ["TaskCompleted", "WorkflowFailed"]
    assert (
        e.state.reason == f"Task {e.t('p').task_id} failed with status: FAILED and reason: 'nope'"
    )


def test_a_permissive_task_timing_out_names_its_own_status_in_the_reason() -> None:
    e = Engine.of(
        [PERMISSIVE],
        [TaskDef(name="perm_task", retry_count=0, response_timeout_seconds=1), TaskDef(name="b")],
    )
    e.start("perm")
    e.ack("p")
    e.fire(cmd.TimerKind.RESPONSE_TIMEOUT, "p", e.now + 1000)
    assert e.t("p").status is TaskStatus.TIMED_OUT and e.state.status is WorkflowStatus.RUNNING
    e.report("t2")
    assert e.state.status is WorkflowStatus.FAILED  # FAILED, not TIMED_OUT
    assert "failed with status: TIMED_OUT and reason:" in str(e.state.reason)
    assert e.state.failed_ref_names == ()  # TIMED_OUT is not named


def test_a_permissive_task_is_retried_first_and_permitted_only_when_retries_are_spent() -> None:
    e = Engine.of([PERMISSIVE], [TaskDef(name="perm_task", retry_count=1, retry_delay_seconds=0)])
    e.start("perm")
    assert e.events_of(e.report("p", TaskStatus.FAILED)) == ["TaskFailed", "TaskScheduled"]
    assert e.t("p").retry_count == 1
    assert "TaskFailurePermitted" in e.events_of(e.report("p", TaskStatus.FAILED))


def test_a_permissive_dynamic_fork_branch_fails_its_join_once_the_others_ended() -> None:
    fork = task(
        "df",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"tasks": "${workflow.input.tasks}", "inputs": {}},
        dynamic_fork_tasks_param="tasks",
        dynamic_fork_tasks_input_param_name="inputs",
    )
    wf = workflow("dyn", fork, task("dj", "JOIN"))
    e = Engine.of([wf], [TaskDef(name="w", retry_count=0)])
    branches = [
        {"name": "w", "taskReferenceName": "x", "permissive": True},
        {"name": "w", "taskReferenceName": "y"},
    ]
    e.start("dyn", {"tasks": branches})
    e.report("x", TaskStatus.FAILED, reason="x broke")
    assert e.t("dj").status is TaskStatus.IN_PROGRESS  # waits for y
    e.report("y", output={"y": 1})
    assert e.t("dj").status is TaskStatus.FAILED and e.t("dj").reason == "x broke"
    assert e.state.status is WorkflowStatus.FAILED
