"""Given/when/then: retries, optional tasks, timeouts, failure workflows."""

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import (
    RetryLogic,
    TaskDef,
    TaskTimeoutPolicy,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.effects import EmitCommand
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import T0, Engine, task, workflow

K = cmd.TimerKind
ONE = workflow("one", task("a"), task("b"))


def engine(td: TaskDef, wf=ONE) -> Engine:
    return Engine.of([wf], [td, TaskDef(name="b")])


def test_retries_failed_task_after_fixed_delay():
    e = engine(TaskDef(name="a", retry_count=2, retry_delay_seconds=10))
    e.start("one")
    first = e.t("a")
    assert e.events_of(e.report("a", TaskStatus.FAILED, at=T0 + 1000)) == [
        "TaskFailed",
        "TaskScheduled",
    ]
    retry = e.t("a")
    assert (retry.retry_count, retry.retried_task_id) == (1, first.task_id)
    assert retry.task_id != first.task_id
    assert retry.available_at == T0 + 1000 + 10_000
    assert not retry.queued  # dispatched only when its delay timer fires
    assert e.rejected(e.ack("a")).code is RejectionCode.TASK_NOT_QUEUED
    assert e.events_of(e.fire(K.TASK_DELAY, "a", T0 + 11_000)) == ["TaskQueued"]
    assert e.t("a").queued


def test_retry_keeps_the_input_of_the_failed_attempt():
    e = engine(TaskDef(name="a", retry_count=1, retry_delay_seconds=0))
    e.start("one")
    e.report("a", TaskStatus.FAILED)
    assert e.t("a").input == e.state.tasks[e.t("a").retried_task_id].input


def test_exponential_backoff_doubles_the_delay():
    td = TaskDef(
        name="a", retry_count=3, retry_delay_seconds=2, retry_logic=RetryLogic.EXPONENTIAL_BACKOFF
    )
    e = engine(td)
    e.start("one")
    delays = []
    for _ in range(3):
        e.report("a", TaskStatus.FAILED, at=e.now)
        delays.append(e.t("a").start_delay_ms)
        e.fire(K.TASK_DELAY, "a", e.t("a").available_at)
    assert delays == [2000, 4000, 8000]


def test_fails_workflow_when_retries_are_exhausted():
    e = engine(TaskDef(name="a", retry_count=1, retry_delay_seconds=0))
    e.start("one")
    e.report("a", TaskStatus.FAILED)
    e.fire(K.TASK_DELAY, "a", e.t("a").available_at)
    assert e.events_of(e.report("a", TaskStatus.FAILED, reason="again")) == [
        "TaskFailed",
        "WorkflowFailed",
    ]
    assert e.state.status is WorkflowStatus.FAILED
    assert e.state.failed_task_id == e.t("a").task_id


def test_terminal_error_is_never_retried():
    e = engine(TaskDef(name="a", retry_count=5))
    e.start("one")
    e.report("a", TaskStatus.FAILED_WITH_TERMINAL_ERROR, reason="bad input")
    assert e.state.status is WorkflowStatus.FAILED
    assert e.t("a").retry_count == 0


def test_workflow_task_retry_count_overrides_task_def():
    wf = workflow("ov", task("a", retry_count=0), task("b"))
    e = engine(TaskDef(name="a", retry_count=5), wf)
    e.start("ov")
    e.report("a", TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.FAILED
    assert e.t("a").task_def.retry_count == 0


def test_optional_task_failure_completes_with_errors():
    wf = workflow("opt", task("a", optional=True), task("b"))
    e = engine(TaskDef(name="a", retry_count=0), wf)
    e.start("opt")
    assert e.events_of(e.report("a", TaskStatus.FAILED)) == [
        "TaskFailed",
        "TaskCompletedWithErrors",
        "TaskScheduled",
    ]
    assert e.t("a").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert e.state.status is WorkflowStatus.RUNNING


def test_response_timeout_retries_attempt():
    e = engine(TaskDef(name="a", retry_count=1, retry_delay_seconds=0, response_timeout_seconds=30))
    e.start("one")
    e.ack("a", at=T0)
    assert (
        e.rejected(e.fire(K.RESPONSE_TIMEOUT, "a", T0 + 20_000)).code is RejectionCode.TIMER_STALE
    )
    assert e.events_of(e.fire(K.RESPONSE_TIMEOUT, "a", T0 + 30_000)) == [
        "TaskFailed",
        "TaskScheduled",
    ]
    timed_out = e.state.tasks[e.t("a").retried_task_id]
    assert timed_out.status is TaskStatus.TIMED_OUT
    assert timed_out.reason.startswith("responseTimeout: 30 exceeded")


def test_heartbeat_moves_the_response_timeout():
    e = engine(TaskDef(name="a", response_timeout_seconds=30))
    e.start("one")
    e.ack("a", at=T0)
    e.report("a", TaskStatus.IN_PROGRESS, at=T0 + 20_000, extend_lease=True)
    assert (
        e.rejected(e.fire(K.RESPONSE_TIMEOUT, "a", T0 + 30_000)).code is RejectionCode.TIMER_STALE
    )
    assert e.events_of(e.fire(K.RESPONSE_TIMEOUT, "a", T0 + 50_000))[0] == "TaskFailed"


def test_task_timeout_with_time_out_wf_times_out_workflow():
    td = TaskDef(
        name="a",
        timeout_seconds=60,
        timeout_policy=TaskTimeoutPolicy.TIME_OUT_WF,
        response_timeout_seconds=0,
    )
    e = engine(td)
    e.start("one")
    e.ack("a", at=T0)
    assert e.events_of(e.fire(K.TASK_TIMEOUT, "a", T0 + 60_000)) == ["TaskFailed", "WorkflowFailed"]
    assert e.state.status is WorkflowStatus.TIMED_OUT
    assert e.t("a").status is TaskStatus.TIMED_OUT


def test_task_timeout_with_retry_policy_retries():
    td = TaskDef(
        name="a",
        retry_count=1,
        retry_delay_seconds=0,
        timeout_seconds=60,
        timeout_policy=TaskTimeoutPolicy.RETRY,
        response_timeout_seconds=0,
    )
    e = engine(td)
    e.start("one")
    e.ack("a", at=T0)
    assert e.events_of(e.fire(K.TASK_TIMEOUT, "a", T0 + 60_000)) == ["TaskFailed", "TaskScheduled"]


def test_alert_only_timeout_has_no_timer():
    td = TaskDef(
        name="a",
        timeout_seconds=60,
        timeout_policy=TaskTimeoutPolicy.ALERT_ONLY,
        response_timeout_seconds=0,
    )
    e = engine(td)
    e.start("one")
    e.ack("a", at=T0)
    assert e.rejected(e.fire(K.TASK_TIMEOUT, "a", T0 + 60_000)).code is RejectionCode.TIMER_STALE


def test_poll_timeout_times_out_task_never_picked_up():
    td = TaskDef(
        name="a", retry_count=0, poll_timeout_seconds=5, timeout_policy=TaskTimeoutPolicy.RETRY
    )
    e = engine(td)
    e.start("one")
    assert e.events_of(e.fire(K.POLL_TIMEOUT, "a", T0 + 5000)) == ["TaskFailed", "WorkflowFailed"]
    assert e.state.status is WorkflowStatus.TIMED_OUT


def test_total_timeout_stops_retries():
    td = TaskDef(
        name="a",
        retry_count=5,
        retry_delay_seconds=0,
        total_timeout_seconds=100,
        timeout_policy=TaskTimeoutPolicy.RETRY,
        response_timeout_seconds=0,
    )
    e = engine(td)
    e.start("one")
    e.report("a", TaskStatus.FAILED, at=T0 + 100_000)
    assert e.state.status is WorkflowStatus.FAILED


def test_workflow_timeout_times_out_workflow_and_cancels_tasks():
    wf = workflow(
        "slow", task("a"), timeout_seconds=10, timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF
    )
    e = engine(TaskDef(name="a"), wf)
    e.start("slow")
    assert e.events_of(e.fire(K.WORKFLOW_TIMEOUT, None, T0 + 10_000)) == [
        "TaskCanceled",
        "WorkflowFailed",
    ]
    assert e.state.status is WorkflowStatus.TIMED_OUT


def test_rejects_timer_fired_before_it_is_due():
    wf = workflow(
        "slow", task("a"), timeout_seconds=10, timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF
    )
    e = engine(TaskDef(name="a"), wf)
    e.start("slow")
    late = cmd.TimerFired(
        workflow_id="wf-1", at=T0 + 5, actor="timer", kind=K.WORKFLOW_TIMEOUT, due_at=T0 + 10_000
    )
    assert e.rejected(e.send(late)).code is RejectionCode.TIMER_STALE


def test_timer_never_fires_twice_into_the_log():
    e = engine(TaskDef(name="a", retry_count=1, retry_delay_seconds=3))
    e.start("one")
    e.report("a", TaskStatus.FAILED)
    e.fire(K.TASK_DELAY, "a", T0 + 3000)
    assert e.rejected(e.fire(K.TASK_DELAY, "a", T0 + 3000)).code is RejectionCode.TIMER_STALE


def test_failure_workflow_is_started_with_failure_details():
    wf = workflow("main", task("a"), failure_workflow="cleanup")
    e = engine(TaskDef(name="a", retry_count=0), wf)
    e.start("main", {"order": 1})
    e.report("a", TaskStatus.FAILED, reason="nope")
    starts = [f.command for f in e.effects if isinstance(f, EmitCommand)]
    assert len(starts) == 1
    start = starts[0]
    assert isinstance(start, cmd.StartWorkflow) and start.name == "cleanup"
    assert start.workflow_id == e.state.failure_workflow_id
    assert start.input["order"] == 1
    assert start.input["workflowId"] == "wf-1"
    assert start.input["failureStatus"] == "FAILED"
    assert start.input["failureTaskId"] == e.t("a").task_id
    assert "nope" in start.input["reason"]
