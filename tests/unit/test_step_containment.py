"""A command whose outcome cannot be written fails its workflow (or is refused), nothing else
(issue 15): the check vets each command's records before anything of it is kept."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.engine import step
from orchestrator.engine.step import Unpersistable
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context

CTX = dict_context([workflow("w", task("a"), task("b"))], [])


def start(wid: str) -> cmd.StartWorkflow:
    return cmd.StartWorkflow(workflow_id=wid, at=T0, actor="test", name="w", version=1)


def refuse(kind: type, reason: str = "too large") -> step.Check:
    def check(events: Sequence[tuple[ev.Event, str | None]], effects: Sequence[object]) -> None:
        if any(isinstance(e, kind) for e, _ in events) or any(isinstance(x, kind) for x in effects):
            raise Unpersistable(reason)

    return check


def started(wid: str):  # type: ignore[no-untyped-def]
    out = step.process_batch({}, [(start(wid), None)], CTX)
    return out.states[wid], out.dispatches[0]


def test_a_start_whose_records_cannot_be_written_is_refused_with_the_reason() -> None:
    out = step.process_batch({}, [(start("wf-1"), "c-1")], CTX, refuse(ev.WorkflowStarted))

    assert out.events == [] and out.states == {} and out.dispatches == []
    [(_, rejection, command_id)] = out.rejections
    assert command_id == "c-1" and rejection.code is RejectionCode.INVALID_REQUEST
    assert rejection.reason == "StartWorkflow refused: too large"


def test_a_report_whose_outcome_cannot_be_written_fails_the_workflow_instead() -> None:
    state, dispatch = started("wf-1")
    report = cmd.ReportTaskResult(
        workflow_id="wf-1", at=T0 + 5, actor="worker:w", task_id=dispatch.task_id,
        status=TaskStatus.COMPLETED, output={"big": "x"},
    )  # fmt: skip
    check = refuse(ev.TaskCompleted, "its TaskCompleted record would be 1.20 MB")

    out = step.process_batch({"wf-1": state}, [(report, "c-2")], CTX, check)

    kinds = [type(e) for e, _ in out.events]
    assert kinds == [ev.TaskCanceled, ev.WorkflowFailed]
    failed = out.events[-1][0]
    assert isinstance(failed, ev.WorkflowFailed) and failed.status is WorkflowStatus.FAILED
    assert failed.reason == (
        "ReportTaskResult could not be applied: its TaskCompleted record would be 1.20 MB"
    )
    assert failed.actor == "engine" and failed.output == {}
    assert out.states["wf-1"].status is WorkflowStatus.FAILED
    assert not any(isinstance(d, DispatchTask) for d in out.dispatches)  # task b never came


def test_other_commands_of_the_batch_are_not_affected() -> None:
    state, _ = started("wf-1")
    out = step.process_batch(
        {"wf-1": state},
        [(start("wf-2"), None), (cmd.PauseWorkflow(workflow_id="wf-1", at=T0, actor="t"), None)],
        CTX,
        refuse(ev.WorkflowStarted),
    )
    assert out.states["wf-1"].status is WorkflowStatus.PAUSED
    assert [c.workflow_id for c, _, _ in out.rejections] == ["wf-2"]


def test_if_even_the_failure_cannot_be_written_the_command_becomes_a_dead_letter() -> None:
    state, dispatch = started("wf-1")
    report = cmd.ReportTaskResult(
        workflow_id="wf-1", at=T0 + 5, actor="worker:w", task_id=dispatch.task_id,
        status=TaskStatus.COMPLETED,
    )  # fmt: skip

    def never(events: Sequence[tuple[ev.Event, str | None]], effects: Sequence[object]) -> None:
        raise Unpersistable("the codec refuses everything")

    out = step.process_batch({"wf-1": state}, [(report, None)], CTX, never)

    assert out.events == [] and out.states == {}
    [failure] = out.failures
    assert failure.command is report and "the codec refuses everything" in failure.reason


def test_a_command_on_an_ended_workflow_is_refused_not_failed_again() -> None:
    state, _ = started("wf-1")
    ended = step.process_batch(
        {"wf-1": state}, [(cmd.TerminateWorkflow(workflow_id="wf-1", at=T0, actor="t"), None)], CTX
    ).states["wf-1"]
    restart = cmd.RestartWorkflow(workflow_id="wf-1", at=T0 + 9, actor="api:x")

    out = step.process_batch({"wf-1": ended}, [(restart, "c-3")], CTX, refuse(ev.WorkflowRestarted))

    assert out.events == [] and out.states == {}
    [(_, rejection, _)] = out.rejections
    assert rejection.reason.startswith("RestartWorkflow refused: ")


def test_fail_workflow_decides_like_a_command_and_is_rejected_on_an_ended_one() -> None:
    state, _ = started("wf-1")
    fail = cmd.FailWorkflow(workflow_id="wf-1", at=T0 + 1, actor="engine", reason="state too big")
    out = step.process_batch({"wf-1": state}, [(fail, None)], CTX)
    assert out.states["wf-1"].status is WorkflowStatus.FAILED
    assert out.states["wf-1"].reason == "state too big"

    again = step.process_batch(out.states, [(fail, None)], CTX)
    [(_, rejection, _)] = again.rejections
    assert rejection.code is RejectionCode.WORKFLOW_TERMINAL


def test_a_loop_that_never_waits_fails_its_workflow_past_the_decision_budget() -> None:
    """A DO_WHILE of INLINE tasks whose condition never turns false: one command would cascade
    forever; past the budget nothing of the cascade is kept and the workflow fails."""
    from orchestrator.domain.context import Context
    from orchestrator.domain.definitions_json import parse_workflow_def
    from orchestrator.testing.scripts import FakeScripts

    loop = parse_workflow_def(
        {
            "name": "forever",
            "version": 1,
            "tasks": [
                {"name": "wait", "taskReferenceName": "wait", "type": "HUMAN"},
                {
                    "name": "spin",
                    "taskReferenceName": "spin",
                    "type": "DO_WHILE",
                    "loopCondition": "true",
                    "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
                },
            ],
        }
    )
    base = dict_context([loop], [], FakeScripts({"true": lambda _: True}))
    ctx = Context(base.workflow_def, base.task_def, base.scripts, max_decision_events=500)
    begin = cmd.StartWorkflow(workflow_id="wf-9", at=T0, actor="t", name="forever", version=1)
    state = step.process_batch({}, [(begin, None)], ctx).states["wf-9"]
    human = cmd.UpdateTaskByRef(
        workflow_id="wf-9", at=T0 + 1, actor="api:x", task_ref="wait", status=TaskStatus.COMPLETED
    )

    out = step.process_batch({"wf-9": state}, [(human, None)], ctx)

    after = out.states["wf-9"]
    assert after.status is WorkflowStatus.FAILED
    assert "over the limit of 500 (ORCHESTRATOR_MAX_DECISION_EVENTS)" in (after.reason or "")
    assert len(out.events) < 10  # the runaway cascade itself was dropped


def test_a_start_that_would_run_away_at_once_is_refused() -> None:
    from orchestrator.domain.context import Context
    from orchestrator.domain.definitions_json import parse_workflow_def
    from orchestrator.testing.scripts import FakeScripts

    loop = parse_workflow_def(
        {
            "name": "forever",
            "version": 1,
            "tasks": [
                {
                    "name": "spin",
                    "taskReferenceName": "spin",
                    "type": "DO_WHILE",
                    "loopCondition": "true",
                    "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
                }
            ],
        }
    )
    base = dict_context([loop], [], FakeScripts({"true": lambda _: True}))
    ctx = Context(base.workflow_def, base.task_def, base.scripts, max_decision_events=300)
    begin = cmd.StartWorkflow(workflow_id="wf-8", at=T0, actor="t", name="forever", version=1)

    out = step.process_batch({}, [(begin, None)], ctx)

    assert out.states == {} and out.events == []
    [(_, rejection, _)] = out.rejections
    assert "ORCHESTRATOR_MAX_DECISION_EVENTS" in rejection.reason


def test_a_payload_store_outage_is_no_failure_the_batch_is_decided_again() -> None:
    """RetryBatch (a large payload cannot be stored now) leaves the batch undecided whole: no
    dead letter, no failed workflow; the processor decides it again later."""
    from orchestrator.engine.step import RetryBatch

    state, dispatch = started("wf-1")
    report = cmd.ReportTaskResult(
        workflow_id="wf-1", at=T0 + 5, actor="worker:w", task_id=dispatch.task_id,
        status=TaskStatus.COMPLETED,
    )  # fmt: skip

    def store_down(
        events: Sequence[tuple[ev.Event, str | None]], effects: Sequence[object]
    ) -> None:
        raise RetryBatch("payload store unreachable")

    try:
        step.process_batch({"wf-1": state}, [(report, None)], CTX, store_down)
    except RetryBatch:
        pass
    else:  # pragma: no cover
        raise AssertionError("RetryBatch was swallowed")
    again = step.process_batch({"wf-1": state}, [(report, None)], CTX, lambda e, x: None)
    assert next(type(e) for e, _ in again.events) is ev.TaskCompleted
    assert [d.task_def_name for d in again.dispatches] == ["b"]
