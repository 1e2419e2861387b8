"""WAIT and HUMAN: waiting in the engine, woken by a validated timer or the task update API."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.durations import parse_until_ms
from orchestrator.domain.effects import ScheduleTimer
from orchestrator.domain.outcome import Accepted, Rejected, RejectionCode
from orchestrator.domain.react import resume
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.unit.handler_kit import T0, Flow, flow, task, workflow

HOUR = 3_600_000


def _wait_flow(**params: object) -> Flow:
    f = flow([workflow("w", task("pause", "WAIT", input_parameters=dict(params)), task("after"))])
    f.start("w", {"d": "1h"})
    return f


def test_wait_with_duration_is_in_progress_with_a_handler_timer_at_the_wake_up_time() -> None:
    f = _wait_flow(duration="1 hour")
    assert f.task("pause").status is TaskStatus.IN_PROGRESS
    assert [(t.kind, t.due_at) for t in f.timers()] == [(cmd.TimerKind.HANDLER, T0 + HOUR)]
    assert f.st.current("after") is None


def test_wait_completes_when_its_timer_fires_and_the_workflow_goes_on() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    assert isinstance(f.fire(timer), Accepted)
    assert f.task("pause").status is TaskStatus.COMPLETED
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_rejects_a_wait_timer_firing_before_its_due_time() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    early = f.fire(timer, at=T0 + HOUR - 1)
    assert isinstance(early, Rejected) and early.code is RejectionCode.TIMER_STALE
    assert f.task("pause").status is TaskStatus.IN_PROGRESS


def test_rejects_a_wait_timer_firing_for_another_due_time() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    stale = f.fire(timer, at=T0 + 2 * HOUR, due_at=T0 + HOUR - 1000)
    assert isinstance(stale, Rejected) and stale.code is RejectionCode.TIMER_STALE


def test_rejects_a_duplicate_wait_timer_firing() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    f.fire(timer)
    again = f.fire(timer)
    assert isinstance(again, Rejected) and again.code is RejectionCode.TIMER_STALE


def test_wait_duration_may_come_from_an_expression() -> None:
    f = _wait_flow(duration="${workflow.input.d}")
    assert f.task("pause").input == {"duration": "1h"}
    assert [t.due_at for t in f.timers()] == [T0 + HOUR]


def test_wait_until_a_date_sets_the_timer_at_that_date() -> None:
    f = _wait_flow(until="2030-01-01 10:00 UTC")
    assert [t.due_at for t in f.timers()] == [parse_until_ms("2030-01-01 10:00 UTC")]


def test_wait_until_a_past_date_completes_at_once() -> None:
    f = _wait_flow(until="2020-01-01 10:00 GMT+02:00")
    assert f.task("pause").status is TaskStatus.COMPLETED
    assert f.task("after").status is TaskStatus.SCHEDULED
    for timer in f.timers():  # react saw the task open for a moment: its firing is stale
        late = f.fire(timer, at=T0)
        assert isinstance(late, Rejected) and late.code is RejectionCode.TIMER_STALE


def test_wait_with_both_duration_and_until_fails_terminally() -> None:
    f = _wait_flow(duration="1h", until="2030-01-01 10:00")
    pause = f.task("pause")
    assert pause.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert pause.reason == "Both 'duration' and 'until' specified. Please provide only one input"
    assert f.st.status is WorkflowStatus.FAILED


def test_wait_with_an_unparseable_duration_fails_terminally_with_the_reason() -> None:
    f = _wait_flow(duration="soon")
    pause = f.task("pause")
    assert pause.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert "Invalid/Unsupported Wait duration format" in str(pause.reason)
    assert not f.of(ev.TaskScheduled)[1:]  # no retry attempt


def test_wait_without_duration_has_no_timer_and_is_completed_by_update_by_ref() -> None:
    f = _wait_flow()
    assert f.timers() == []
    assert isinstance(f.update("pause", TaskStatus.COMPLETED, {"ok": True}), Accepted)
    assert f.task("pause").status is TaskStatus.COMPLETED
    assert f.task("pause").output == {"ok": True}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_wait_with_duration_completed_early_by_the_api_makes_its_timer_stale() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    f.update("pause", TaskStatus.COMPLETED)
    late = f.fire(timer)
    assert isinstance(late, Rejected) and late.code is RejectionCode.TIMER_STALE


def test_wait_is_never_handed_to_a_worker() -> None:
    f = _wait_flow(duration="1h")
    ack = f.when(
        cmd.TaskStarted(
            workflow_id="wf-1", at=T0, actor="worker:x", task_id=f.task("pause").task_id
        )
    )
    assert isinstance(ack, Rejected) and ack.code is RejectionCode.TASK_NOT_QUEUED


def test_resume_restates_the_timer_of_an_open_wait() -> None:
    f = _wait_flow(duration="2h")
    restated = [e for e in resume(f.st) if isinstance(e, ScheduleTimer)]
    assert [(t.kind, t.due_at) for t in restated] == [(cmd.TimerKind.HANDLER, T0 + 2 * HOUR)]


def test_a_wait_timer_firing_while_paused_completes_the_task_and_goes_on_at_resume() -> None:
    f = _wait_flow(duration="1h")
    [timer] = f.timers()
    f.accept(cmd.PauseWorkflow(workflow_id="wf-1", at=T0 + 1, actor="api:test"))
    f.fire(timer)
    assert f.task("pause").status is TaskStatus.COMPLETED
    assert f.st.current("after") is None
    f.accept(cmd.ResumeWorkflow(workflow_id="wf-1", at=T0 + 2 * HOUR, actor="api:test"))
    assert f.task("after").status is TaskStatus.SCHEDULED


# --- HUMAN ------------------------------------------------------------------------------------


def _human_flow() -> Flow:
    f = flow(
        [workflow("h", task("approve", "HUMAN", input_parameters={"who": "${workflow.input.who}"}))]
    )
    f.start("h", {"who": "ann"})
    return f


def test_human_task_waits_in_progress_without_timer_or_dispatch() -> None:
    f = _human_flow()
    approve = f.task("approve")
    assert approve.status is TaskStatus.IN_PROGRESS
    assert approve.input == {"who": "ann"}
    assert approve.task_type == "HUMAN"
    assert f.effects == []


def test_human_task_completed_by_update_by_ref_completes_the_workflow() -> None:
    f = _human_flow()
    f.update("approve", TaskStatus.COMPLETED, {"approved": True})
    assert f.task("approve").status is TaskStatus.COMPLETED
    assert f.st.status is WorkflowStatus.COMPLETED
    assert f.st.output == {"approved": True}


def test_human_task_failed_by_a_task_result_fails_the_workflow_with_its_reason() -> None:
    f = _human_flow()
    f.report("approve", TaskStatus.FAILED, reason="rejected by ann")
    assert f.task("approve").reason == "rejected by ann"
    assert f.st.status is WorkflowStatus.FAILED


def test_rejects_a_second_update_of_a_completed_human_task() -> None:
    f = _human_flow()
    f.update("approve", TaskStatus.COMPLETED)
    again = f.update("approve", TaskStatus.COMPLETED)
    assert isinstance(again, Rejected) and again.code is RejectionCode.WORKFLOW_TERMINAL
