"""Given/when/then: the effects react and resume derive from the state."""

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.effects import DispatchTask, EmitCommand, ScheduleTimer
from orchestrator.domain.react import resume
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import T0, Engine, task, workflow

WF = workflow(
    "w",
    task("a", input_parameters={"x": "${workflow.input.x}"}, start_delay=0),
    task("b", start_delay=5),
)


def engine() -> Engine:
    e = Engine.of([WF], [TaskDef(name="a", response_timeout_seconds=30), TaskDef(name="b")])
    e.start("w", {"x": 1}, correlation_id="c-1", priority=7, task_to_domain={"*": "blue"})
    return e


def test_dispatch_carries_what_a_worker_needs():
    e = engine()
    [d] = [f for f in e.effects if isinstance(f, DispatchTask)]
    a = e.t("a")
    assert (d.task_id, d.task_type, d.reference_task_name, d.task_def_name) == (
        a.task_id,
        "a",
        "a",
        "a",
    )
    assert d.input_data == {"x": 1}
    assert (d.workflow_instance_id, d.root_workflow_id, d.workflow_type) == ("wf-1", "wf-1", "w")
    assert (d.correlation_id, d.workflow_priority, d.domain) == ("c-1", 7, "blue")
    assert (d.retry_count, d.seq, d.scheduled_time, d.response_timeout_seconds) == (0, 1, T0, 30)


def test_start_delay_schedules_a_timer_instead_of_a_dispatch():
    e = engine()
    e.effects.clear()
    e.report("a", at=T0 + 100)
    assert not [f for f in e.effects if isinstance(f, DispatchTask)]
    timers = [f for f in e.effects if isinstance(f, ScheduleTimer)]
    assert [(t.kind, t.due_at) for t in timers] == [(cmd.TimerKind.TASK_DELAY, T0 + 5100)]
    e.fire(cmd.TimerKind.TASK_DELAY, "b", T0 + 5100)
    assert [f.task_id for f in e.effects if isinstance(f, DispatchTask)] == [e.t("b").task_id]


def test_ack_arms_response_timeout_timer():
    e = engine()
    e.effects.clear()
    e.ack("a", at=T0 + 10)
    assert (
        ScheduleTimer(
            due_at=T0 + 30_010,
            kind=cmd.TimerKind.RESPONSE_TIMEOUT,
            workflow_id="wf-1",
            root_workflow_id="wf-1",
            task_id=e.t("a").task_id,
        )
        in e.effects
    )


def test_resume_redispatches_queued_tasks_and_rearms_timers():
    e = engine()
    effects = resume(e.state)
    assert [type(f).__name__ for f in effects] == ["DispatchTask"]
    e.ack("a", at=T0 + 1)
    assert [f.kind for f in resume(e.state) if isinstance(f, ScheduleTimer)] == [
        cmd.TimerKind.RESPONSE_TIMEOUT
    ]


def test_child_notifies_parent_when_it_ends():
    child = workflow("child", task("a"))
    e = Engine.of([child], [TaskDef(name="a")], workflow_id="kid")
    e.send(
        cmd.StartWorkflow(
            workflow_id="kid",
            root_workflow_id="root",
            at=T0,
            actor="engine",
            name="child",
            parent_workflow_id="root",
            parent_task_id="pt",
        )
    )
    e.report("a", output={"r": 1})
    [notice] = [f.command for f in e.effects if isinstance(f, EmitCommand)]
    assert isinstance(notice, cmd.ChildWorkflowFinished)
    assert (notice.workflow_id, notice.root, notice.parent_task_id) == ("root", "root", "pt")
    assert (notice.status, notice.output) == (WorkflowStatus.COMPLETED, {"r": 1})
    assert all(ev.root_workflow_id == "root" for ev in e.history)
    assert resume(e.state) == (EmitCommand(command=notice),)


def test_child_finished_for_a_simple_task_is_rejected_as_not_supported():
    e = engine()
    decision = e.op(
        cmd.ChildWorkflowFinished,
        parent_task_id=e.t("a").task_id,
        child_workflow_id="x",
        status=WorkflowStatus.COMPLETED,
    )
    assert e.rejected(decision).code == "STALE_ATTEMPT"


def test_definition_with_a_type_without_handler_is_rejected_at_start(monkeypatch):
    from orchestrator.domain.definitions import TaskType
    from orchestrator.domain.tasks import base

    registry = dict(base._REGISTRY)
    registry.pop(TaskType.NOOP)
    monkeypatch.setattr(base, "_REGISTRY", registry)
    wf = WorkflowDef(name="x", tasks=(task("q", "NOOP"),))
    e = Engine.of([wf], [])
    assert e.rejected(e.start("x")).code == "NOT_SUPPORTED"


def test_terminal_task_status_is_recorded_with_end_time():
    e = engine()
    e.report("a", TaskStatus.COMPLETED, at=T0 + 50)
    assert e.t("a").ended_at == T0 + 50
