"""Given/when/then: terminate, pause/resume, restart, retry, rerun, skip, update by ref."""

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import EmitCommand
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow

SEQ = workflow("seq", task("a"), task("b"), task("c"), failure_workflow="cleanup")
DEFS = [TaskDef(name=n, retry_count=0) for n in "abc"]


def started() -> Engine:
    e = Engine.of([SEQ], DEFS)
    e.start("seq", {"k": 1})
    return e


def test_terminate_cancels_open_tasks():
    e = started()
    assert e.events_of(e.op(cmd.TerminateWorkflow, reason="stop")) == [
        "TaskCanceled",
        "WorkflowTerminated",
    ]
    assert e.state.status is WorkflowStatus.TERMINATED
    assert e.state.reason == "stop"
    assert e.t("a").status is TaskStatus.CANCELED


def test_terminate_starts_failure_workflow_only_when_asked():
    e = started()
    e.op(cmd.TerminateWorkflow, reason="stop")
    assert not [f for f in e.effects if isinstance(f, EmitCommand)]
    e2 = started()
    e2.op(cmd.TerminateWorkflow, reason="stop", trigger_failure_workflow=True)
    assert [f.command.name for f in e2.effects if isinstance(f, EmitCommand)] == ["cleanup"]


def test_terminal_workflow_rejects_reports_and_terminate():
    e = started()
    e.op(cmd.TerminateWorkflow)
    assert e.rejected(e.report("a")).code is RejectionCode.WORKFLOW_TERMINAL
    assert e.rejected(e.op(cmd.TerminateWorkflow)).code is RejectionCode.WORKFLOW_TERMINAL
    assert e.rejected(e.op(cmd.PauseWorkflow)).code is RejectionCode.WORKFLOW_TERMINAL


def test_paused_workflow_records_results_but_schedules_nothing():
    e = started()
    e.op(cmd.PauseWorkflow)
    assert e.events_of(e.report("a")) == ["TaskCompleted"]
    assert e.state.current("b") is None
    assert e.events_of(e.op(cmd.ResumeWorkflow)) == ["WorkflowResumed", "TaskScheduled"]
    assert e.t("b").status is TaskStatus.SCHEDULED


def test_failure_while_paused_is_handled_on_resume():
    e = started()
    e.op(cmd.PauseWorkflow)
    e.report("a", TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.PAUSED
    assert e.events_of(e.op(cmd.ResumeWorkflow)) == ["WorkflowResumed", "WorkflowFailed"]


def test_rejects_pause_twice_and_resume_of_running():
    e = started()
    assert e.rejected(e.op(cmd.ResumeWorkflow)).code is RejectionCode.NOT_PAUSED
    e.op(cmd.PauseWorkflow)
    assert e.rejected(e.op(cmd.PauseWorkflow)).code is RejectionCode.NOT_RUNNING


def test_restart_appends_a_new_generation_and_keeps_history():
    e = started()
    e.report("a", TaskStatus.FAILED)
    old = e.t("a").task_id
    assert e.events_of(e.op(cmd.RestartWorkflow)) == ["WorkflowRestarted", "TaskScheduled"]
    assert e.state.status is WorkflowStatus.RUNNING
    assert e.state.generation == 1
    assert e.t("a").task_id != old
    assert old in e.state.tasks  # history kept


def test_restart_with_latest_definition_uses_it():
    e = started()
    e.op(cmd.TerminateWorkflow)
    v2 = workflow("seq", task("c"), version=2)
    e.op(cmd.RestartWorkflow, use_latest_definition=True, definition=v2)
    assert e.state.definition.version == 2
    assert e.t("c").status is TaskStatus.SCHEDULED


def test_rejects_restart_of_running_workflow():
    e = started()
    assert e.rejected(e.op(cmd.RestartWorkflow)).code is RejectionCode.WORKFLOW_NOT_TERMINAL


def test_retry_reschedules_last_failed_task():
    e = started()
    e.report("a")
    e.report("b", TaskStatus.FAILED, reason="x")
    failed = e.t("b")
    assert e.events_of(e.op(cmd.RetryWorkflow)) == ["WorkflowRetried", "TaskScheduled"]
    assert e.t("b").retried_task_id == failed.task_id
    assert e.t("b").retry_count == 1
    assert e.state.status is WorkflowStatus.RUNNING
    e.report("b")
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED


def test_rejects_retry_without_failed_task():
    e = started()
    for ref in "abc":
        e.report(ref)
    assert e.rejected(e.op(cmd.RetryWorkflow)).code is RejectionCode.NOTHING_TO_RETRY


def test_rerun_from_task_with_new_input():
    e = started()
    e.report("a", output={"v": 1})
    e.report("b", TaskStatus.FAILED)
    b = e.t("b").task_id
    decision = e.op(cmd.RerunWorkflow, from_task_id=b, workflow_input={"k": 2}, task_input={"z": 1})
    assert e.events_of(decision) == ["WorkflowRerun", "TaskScheduled"]
    assert e.state.input == {"k": 2}
    assert e.t("b").input == {"z": 1}
    assert e.t("a").output == {"v": 1}  # tasks before the rerun point are kept
    assert e.state.generation == 1


def test_skip_task_not_yet_reached_is_skipped_when_reached():
    e = started()
    assert e.events_of(e.op(cmd.SkipTask, task_ref="b", output={"s": 1})) == ["TaskSkipped"]
    assert e.events_of(e.report("a")) == ["TaskCompleted", "TaskScheduled"]
    assert e.t("b").status is TaskStatus.SKIPPED
    assert e.t("c").status is TaskStatus.SCHEDULED


def test_rejects_skip_of_task_already_reached():
    e = started()
    assert e.rejected(e.op(cmd.SkipTask, task_ref="a")).code is RejectionCode.TASK_ALREADY_PROCESSED


def test_update_task_by_ref_completes_it():
    e = started()
    decision = e.op(cmd.UpdateTaskByRef, task_ref="a", status=TaskStatus.COMPLETED, output={"o": 1})
    assert e.events_of(decision) == ["TaskCompleted", "TaskScheduled"]
    assert e.t("a").output == {"o": 1}
