"""decide(state, command, ctx) -> Accepted(events) | Rejected(code, reason). Never raises for
bad input; the whole synchronous cascade of a command is in its Accepted events."""

from __future__ import annotations

from typing import assert_never

from orchestrator.domain import commands as cmd
from orchestrator.domain import decide_task, decide_workflow
from orchestrator.domain.cascade import Cascade, DecisionTooLarge
from orchestrator.domain.context import Context
from orchestrator.domain.outcome import Accepted, Decision, Rejected, RejectionCode
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import WorkflowStatus


def decide(state: WorkflowState | None, command: cmd.Command, ctx: Context) -> Decision:
    try:
        return _decide(state, command, ctx)
    except DecisionTooLarge as exc:
        return _too_large(state, command, ctx, exc.count)


def _too_large(
    state: WorkflowState | None, command: cmd.Command, ctx: Context, count: int
) -> Decision:
    """A runaway cascade (e.g. a DO_WHILE of system tasks whose condition never turns false):
    nothing of it is kept; the workflow fails with the reason (a start is refused)."""
    reason = (
        f"{type(command).__name__} would run {count}+ steps in one decision, over the limit of "
        f"{ctx.max_decision_events} (ORCHESTRATOR_MAX_DECISION_EVENTS): a loop that never "
        "waits for a worker or a timer?"
    )
    if state is None or state.is_terminal or isinstance(command, cmd.StartWorkflow):
        return Rejected(RejectionCode.INVALID_REQUEST, reason)
    c = Cascade(state, command, ctx)
    c.end_workflow(WorkflowStatus.FAILED, reason, output={})
    return _run(c)


def _decide(state: WorkflowState | None, command: cmd.Command, ctx: Context) -> Decision:
    if isinstance(command, cmd.StartWorkflow):
        return _run(decide_workflow.start(state, command, ctx))
    if state is None:
        return Rejected(RejectionCode.WORKFLOW_NOT_FOUND, f"no workflow {command.workflow_id}")
    c = Cascade(state, command, ctx)
    match command:
        case cmd.StartWorkflow():
            raise AssertionError("handled above")
        case cmd.TerminateWorkflow():
            outcome = decide_workflow.terminate(c, command)
        case cmd.FailWorkflow():
            outcome = decide_workflow.fail(c, command)
        case cmd.PauseWorkflow():
            outcome = decide_workflow.pause(c)
        case cmd.ResumeWorkflow():
            outcome = decide_workflow.resume(c)
        case cmd.RestartWorkflow():
            outcome = decide_workflow.restart(c, command)
        case cmd.RetryWorkflow():
            outcome = decide_workflow.retry(c, command)
        case cmd.RerunWorkflow():
            outcome = decide_workflow.rerun(c, command)
        case cmd.SkipTask():
            outcome = decide_task.skip(c, command)
        case cmd.UpdateTaskByRef():
            outcome = decide_task.update_by_ref(c, command)
        case cmd.ChildWorkflowFinished():
            outcome = decide_task.child_finished(c, command)
        case cmd.TimerFired():
            outcome = decide_task.timer_fired(c, command)
        case cmd.TaskStarted():
            outcome = decide_task.task_started(c, command)
        case cmd.ReportTaskResult():
            outcome = decide_task.report(c, command)
        case _:
            assert_never(command)
    return _run(outcome)


def _run(outcome: Cascade | Rejected) -> Decision:
    """Work off the cascade's queued consequences and hand back its events."""
    if isinstance(outcome, Rejected):
        return outcome
    outcome.run()
    return Accepted(tuple(outcome.events), tuple(outcome.states))
