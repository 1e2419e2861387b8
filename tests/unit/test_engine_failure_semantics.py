"""Given/when/then: Conductor's failure semantics (permissive tasks, failure workflows, failed
task names, restarts, invalid dynamic forks) and ${CPEWF_TASK_ID}."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
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
