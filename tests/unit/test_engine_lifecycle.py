"""Given/when/then: starting, acknowledging, reporting, the basic task lifecycle."""

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.outcome import Accepted, RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import T0, Engine, task, workflow

SEQ = workflow(
    "seq",
    task("a", input_parameters={"x": "${workflow.input.x}"}),
    task("b", input_parameters={"fromA": "${a.output.v}"}),
)


def engine(**kw: object) -> Engine:
    return Engine.of([SEQ], [TaskDef(name="a"), TaskDef(name="b")], **kw)


def test_start_schedules_first_task_with_resolved_input():
    e = engine()
    assert e.events_of(e.start("seq", {"x": 7})) == ["WorkflowStarted", "TaskScheduled"]
    assert e.t("a").input == {"x": 7}
    assert e.t("a").status is TaskStatus.SCHEDULED


def test_started_event_embeds_the_definition_used():
    e = engine()
    e.start("seq")
    assert e.history[0].definition == SEQ


def test_rejects_start_of_unknown_definition():
    e = engine()
    assert e.rejected(e.start("nope")).code is RejectionCode.UNKNOWN_DEFINITION


def test_rejects_second_start_for_same_id():
    e = engine()
    e.start("seq")
    assert e.rejected(e.start("seq")).code is RejectionCode.ALREADY_EXISTS


def test_rejects_priority_out_of_range():
    e = engine()
    assert e.rejected(e.start("seq", priority=100)).code is RejectionCode.INVALID_REQUEST


def test_inline_definition_wins_over_lookup():
    e = Engine.of([], [])
    e.send(cmd.StartWorkflow(workflow_id="x", at=T0, actor="api", name="seq", definition=SEQ))
    assert e.state is not None and e.state.definition == SEQ


def test_workflow_input_merges_over_input_template():
    wf = workflow("tpl", task("a"), input_template={"k": 1, "x": 0})
    e = Engine.of([wf], [TaskDef(name="a")])
    e.start("tpl", {"x": 5})
    assert e.state is not None and e.state.input == {"k": 1, "x": 5}


def test_ack_moves_scheduled_task_in_progress():
    e = engine()
    e.start("seq")
    assert e.events_of(e.ack("a", at=T0 + 5)) == ["TaskPickedUp"]
    assert e.t("a").status is TaskStatus.IN_PROGRESS
    assert e.t("a").started_at == T0 + 5
    assert e.t("a").poll_count == 1


def test_rejects_duplicate_ack():
    e = engine()
    e.start("seq")
    e.ack("a")
    assert e.rejected(e.ack("a")).code is RejectionCode.TASK_NOT_QUEUED


def test_completed_report_schedules_next_task_in_same_decision():
    e = engine()
    e.start("seq")
    e.ack("a")
    assert e.events_of(e.report("a", output={"v": 3})) == ["TaskCompleted", "TaskScheduled"]
    assert e.t("b").input == {"fromA": 3}


def test_report_without_ack_is_accepted_as_start_and_result():
    e = engine()
    e.start("seq")
    e.report("a", output={"v": 1}, at=T0 + 9)
    assert e.t("a").status is TaskStatus.COMPLETED
    assert e.t("a").started_at == T0 + 9


def test_report_carrying_its_pickup_time_records_start_and_result_in_one_event():
    e = engine()
    e.start("seq")
    decision = e.report("a", output={"v": 1}, at=T0 + 9, started_at=T0 + 4)
    assert e.events_of(decision) == ["TaskCompleted", "TaskScheduled"]
    assert decision.events[0].started_at == T0 + 4
    a = e.t("a")
    assert (a.started_at, a.ended_at, a.poll_count, a.worker_id) == (T0 + 4, T0 + 9, 1, "w1")


def test_failed_report_carrying_its_pickup_time_keeps_it():
    e = engine()
    e.start("seq")
    e.report("a", TaskStatus.FAILED_WITH_TERMINAL_ERROR, at=T0 + 9, started_at=T0 + 2)
    assert e.t("a").started_at == T0 + 2


def test_pickup_time_of_a_report_is_ignored_once_the_task_was_acknowledged():
    e = engine()
    e.start("seq")
    e.ack("a", at=T0 + 5)
    decision = e.report("a", at=T0 + 9, started_at=T0 + 1)
    assert decision.events[0].started_at is None
    assert e.t("a").started_at == T0 + 5


def test_last_task_completion_completes_workflow_with_its_output():
    e = engine()
    e.start("seq")
    e.report("a")
    assert e.events_of(e.report("b", output={"done": True})) == [
        "TaskCompleted",
        "WorkflowCompleted",
    ]
    assert e.state is not None
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.state.output == {"done": True}


def test_output_parameters_are_resolved_at_completion():
    wf = workflow("out", task("a"), output_parameters={"r": "${a.output.v}"})
    e = Engine.of([wf], [TaskDef(name="a")])
    e.start("out")
    e.report("a", output={"v": 9})
    assert e.state is not None and e.state.output == {"r": 9}


def test_rejects_duplicate_completed_report():
    e = engine()
    e.start("seq")
    e.report("a")
    before = e.state
    assert e.rejected(e.report("a")).code is RejectionCode.TASK_ALREADY_TERMINAL
    assert e.state == before


def test_rejects_report_for_stale_attempt():
    wf = workflow("r", task("a"))
    e = Engine.of([wf], [TaskDef(name="a", retry_count=1, retry_delay_seconds=0)])
    e.start("r")
    first = e.t("a").task_id
    e.report("a", TaskStatus.FAILED)
    assert e.t("a").task_id != first
    decision = e.report("a", task_id=first)
    assert e.rejected(decision).code is RejectionCode.TASK_ALREADY_TERMINAL


def test_rejects_report_for_unknown_task():
    e = engine()
    e.start("seq")
    assert e.rejected(e.report("a", task_id="nope")).code is RejectionCode.TASK_NOT_FOUND


def test_rejects_report_for_unknown_workflow():
    e = engine()
    decision = e.send(
        cmd.ReportTaskResult(
            workflow_id="ghost", at=T0, actor="w", task_id="t", status=TaskStatus.COMPLETED
        )
    )
    assert e.rejected(decision).code is RejectionCode.WORKFLOW_NOT_FOUND


def test_rejects_report_with_status_a_worker_cannot_set():
    e = engine()
    e.start("seq")
    assert e.rejected(e.report("a", TaskStatus.SKIPPED)).code is RejectionCode.INVALID_REQUEST


def test_in_progress_report_merges_output_and_appends_logs():
    e = engine()
    e.start("seq")
    e.ack("a")
    e.report("a", TaskStatus.IN_PROGRESS, output={"p": 1}, logs=("one",))
    e.report("a", TaskStatus.IN_PROGRESS, output={"q": 2}, logs=("two",))
    assert e.t("a").output == {"p": 1, "q": 2}
    assert e.t("a").logs == ("one", "two")
    assert e.t("a").status is TaskStatus.SCHEDULED  # Conductor: handed out again
    e.report("a", TaskStatus.IN_PROGRESS, output={"r": 3}, extend_lease=True)
    assert e.t("a").status is TaskStatus.IN_PROGRESS  # a heartbeat (extendLease)
    assert e.t("a").output == {"p": 1, "q": 2, "r": 3}


def test_callback_after_seconds_requeues_task_after_delay():
    e = engine()
    e.start("seq")
    e.ack("a", at=T0)
    e.report("a", TaskStatus.IN_PROGRESS, at=T0 + 1000, callback_after_seconds=30)
    assert (
        e.rejected(e.fire(cmd.TimerKind.CALLBACK, "a", T0 + 1000)).code is RejectionCode.TIMER_STALE
    )
    assert e.events_of(e.fire(cmd.TimerKind.CALLBACK, "a", T0 + 31_000)) == ["TaskQueued"]
    assert e.events_of(e.ack("a")) == ["TaskPickedUp"]
    assert e.t("a").poll_count == 2


def test_failed_report_keeps_reason_for_incompletion():
    wf = workflow("f", task("a"))
    e = Engine.of([wf], [TaskDef(name="a", retry_count=0)])
    e.start("f")
    e.report("a", TaskStatus.FAILED, reason="disk full")
    assert e.t("a").reason == "disk full"
    assert e.state is not None and e.state.status is WorkflowStatus.FAILED
    assert "disk full" in (e.state.reason or "")


def test_events_are_numbered_gap_free_from_one():
    e = engine()
    e.start("seq")
    e.report("a")
    e.report("b")
    assert [ev.seq for ev in e.history] == list(range(1, len(e.history) + 1))
    assert all(ev.root_workflow_id == "wf-1" for ev in e.history)


def test_events_inherit_at_and_actor_of_the_command():
    e = engine()
    e.start("seq", at=T0 + 42)
    assert {(ev.at, ev.actor) for ev in e.history} == {(T0 + 42, "api:test")}


def test_task_ids_are_deterministic():
    one, two = engine(), engine()
    one.start("seq")
    two.start("seq")
    assert one.t("a").task_id == two.t("a").task_id
    assert isinstance(one.last, Accepted)
