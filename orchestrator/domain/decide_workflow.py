"""Rules for workflow-level commands: start, terminate, pause, resume, restart, retry, rerun."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.cascade import Cascade
from orchestrator.domain.context import Context
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import WorkflowDef, effective_type
from orchestrator.domain.inputs import workflow_input
from orchestrator.domain.outcome import Rejected, RejectionCode
from orchestrator.domain.rerun import rerun as rerun_from
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.base import handler_for, registered_kinds
from orchestrator.domain.tasks.subworkflow import record_failed_child

Outcome = Cascade | Rejected

_RETRIED = (
    TaskStatus.FAILED,
    TaskStatus.FAILED_WITH_TERMINAL_ERROR,
    TaskStatus.TIMED_OUT,
    TaskStatus.CANCELED,
)


def _check_definition(definition: WorkflowDef) -> Rejected | None:
    if not definition.tasks:
        return Rejected(RejectionCode.INVALID_DEFINITION, f"{definition.name} has no tasks")
    supported = registered_kinds()
    for ref, task in index_of(definition).by_ref.items():
        if effective_type(task) not in supported:
            return Rejected(
                RejectionCode.NOT_SUPPORTED, f"task {ref}: type {task.type} is not supported yet"
            )
    return None


def start(state: WorkflowState | None, command: cmd.StartWorkflow, ctx: Context) -> Outcome:
    if state is not None:
        return _start_existing(state, command, ctx)
    definition = command.definition or ctx.workflow_def(command.name, command.version)
    if definition is None:
        version = "latest" if command.version is None else command.version
        unknown = Rejected(
            RejectionCode.UNKNOWN_DEFINITION, f"no workflow definition {command.name}/{version}"
        )
        return _failed_child(command, ctx, unknown)
    if not 0 <= command.priority <= 99:
        return Rejected(RejectionCode.INVALID_REQUEST, "priority must be within 0..99")
    problem = _check_definition(definition)
    if problem is not None:
        return _failed_child(command, ctx, problem)
    c = Cascade(None, command, ctx)
    c.emit(
        ev.WorkflowStarted,
        definition=definition,
        input=workflow_input(command.input, definition.input_template),
        correlation_id=command.correlation_id,
        priority=command.priority,
        task_to_domain=command.task_to_domain,
        parent_workflow_id=command.parent_workflow_id,
        parent_task_id=command.parent_task_id,
        idempotency_key=command.idempotency_key,
    )
    c.schedule(definition.tasks[0])
    return c


def _failed_child(command: cmd.StartWorkflow, ctx: Context, problem: Rejected) -> Outcome:
    """A child that cannot start is recorded FAILED so its parent task hears of it (a rejection
    would leave the parent waiting); any other start is rejected."""
    if command.parent_task_id is None:
        return problem
    c = Cascade(None, command, ctx)
    record_failed_child(c, command, problem.reason)
    return c


def _start_existing(state: WorkflowState, command: cmd.StartWorkflow, ctx: Context) -> Outcome:
    """A start for an id that exists. With an idempotency key the id was derived from the key
    (ADR 0002), so this is the idempotent duplicate: FAIL and RETURN_EXISTING refuse (the edge
    answers RETURN_EXISTING with the id), FAIL_ON_RUNNING starts a new run once it has ended."""
    exists = Rejected(
        RejectionCode.ALREADY_EXISTS, f"workflow {state.workflow_id} exists ({state.status})"
    )
    strategy = command.idempotency_strategy
    if command.idempotency_key is None or strategy is not cmd.IdempotencyStrategy.FAIL_ON_RUNNING:
        return exists
    if not state.is_terminal:
        return exists
    definition = command.definition or ctx.workflow_def(command.name, command.version)
    if definition is None:
        return Rejected(RejectionCode.UNKNOWN_DEFINITION, f"no workflow definition {command.name}")
    problem = _check_definition(definition)
    if problem is not None:
        return problem
    c = Cascade(state, command, ctx)
    c.emit(
        ev.WorkflowRestarted,
        definition=definition,
        input=workflow_input(command.input, definition.input_template),
        correlation_id=command.correlation_id,
    )
    c.schedule(definition.tasks[0])
    return c


def _terminal(c: Cascade) -> Rejected | None:
    if c.state.is_terminal:
        return Rejected(RejectionCode.WORKFLOW_TERMINAL, f"workflow has ended ({c.state.status})")
    return None


def _not_terminal(c: Cascade) -> Rejected | None:
    if not c.state.is_terminal:
        return Rejected(RejectionCode.WORKFLOW_NOT_TERMINAL, f"workflow is still {c.state.status}")
    return None


def terminate(c: Cascade, command: cmd.TerminateWorkflow) -> Outcome:
    if (rejected := _terminal(c)) is not None:
        return rejected
    c.end_workflow(
        WorkflowStatus.TERMINATED,
        command.reason or f"terminated by {command.actor}",
        trigger_failure_workflow=command.trigger_failure_workflow,
    )
    return c


def fail(c: Cascade, command: cmd.FailWorkflow) -> Outcome:
    """The engine gives up on an execution: FAILED with the reason, an empty output (the state
    that could not be kept is no place to compute one from), the failure workflow started."""
    if (rejected := _terminal(c)) is not None:
        return rejected
    c.end_workflow(WorkflowStatus.FAILED, command.reason, output={})
    return c


def pause(c: Cascade) -> Outcome:
    if (rejected := _terminal(c)) is not None:
        return rejected
    if c.state.status is not WorkflowStatus.RUNNING:
        return Rejected(RejectionCode.NOT_RUNNING, "workflow is already paused")
    c.emit(ev.WorkflowPaused)
    return c


def resume(c: Cascade) -> Outcome:
    if (rejected := _terminal(c)) is not None:
        return rejected
    if c.state.status is not WorkflowStatus.PAUSED:
        return Rejected(RejectionCode.NOT_PAUSED, "workflow is not paused")
    unsettled = sorted(c.state.unsettled, key=lambda tid: c.state.tasks[tid].seq)
    c.emit(ev.WorkflowResumed)
    for task_id in unsettled:  # what ended while paused goes on now, in order
        c.settle(task_id)
    return c


def restart(c: Cascade, command: cmd.RestartWorkflow) -> Outcome:
    if (rejected := _not_terminal(c)) is not None:
        return rejected
    state = c.state
    definition = state.definition
    if command.use_latest_definition:
        latest = command.definition or c.ctx.workflow_def(definition.name, None)
        if latest is None:
            return Rejected(RejectionCode.UNKNOWN_DEFINITION, f"no definition {definition.name}")
        definition = latest
    if not definition.restartable and state.status is WorkflowStatus.COMPLETED:
        # Conductor's restart: only a COMPLETED workflow of a non-restartable definition (the
        # one the restart would run) is refused; one that failed may run again.
        return Rejected(RejectionCode.NOT_RESTARTABLE, non_restartable(state))
    if (problem := _check_definition(definition)) is not None:
        return problem
    c.emit(
        ev.WorkflowRestarted,
        definition=definition,
        input=state.input,
        correlation_id=state.correlation_id,
    )
    c.schedule(definition.tasks[0])
    return c


def non_restartable(state: WorkflowState) -> str:
    """Conductor's message (its workflow's toString: name.version/id.status)."""
    wd = state.definition
    return f"Workflow: {wd.name}.{wd.version}/{state.workflow_id}.{state.status} is non-restartable"


def retry(c: Cascade, command: cmd.RetryWorkflow) -> Outcome:
    """Conductor's retry: the failed/canceled tasks run again in seq order, JOIN / DO_WHILE
    reopened in place (their handlers' on_retry), the others as new attempts. The retry's time
    restarts the workflow timeout; react tells the parent, which runs again too."""
    if (rejected := _not_terminal(c)) is not None:
        return rejected
    if command.child_task_id is not None:
        return _retried_child(c, command.child_task_id)
    failed = _failed_tasks(c.state)
    if not failed:
        return Rejected(RejectionCode.NOTHING_TO_RETRY, "no failed task to retry")
    c.emit(ev.WorkflowRetried)
    _run_again(c, failed, command.resume_subworkflow_tasks)
    return c


def _failed_tasks(state: WorkflowState) -> list[TaskState]:
    tasks = (state.tasks[tid] for tid in state.by_ref.values())
    return sorted((t for t in tasks if t.status in _RETRIED), key=lambda t: t.seq)


def _run_again(c: Cascade, failed: list[TaskState], resume_subworkflow_tasks: bool) -> None:
    for task in failed:
        if handler_for(task.kind).on_retry(c, task, resume_subworkflow_tasks):
            continue
        c.reattempt(task)


def _retried_child(c: Cascade, task_id: str) -> Outcome:
    """The child workflow of task `task_id` was retried (Conductor's updateAndPushParents):
    this workflow runs again with that task reopened in place, waiting for the same child, and
    its other failed tasks run again as in any retry."""
    state = c.state
    task = state.tasks.get(task_id)
    if task is None or task.child_workflow_id is None:
        return Rejected(RejectionCode.TASK_NOT_FOUND, f"no task {task_id} with a child workflow")
    if task.retried or task.generation != state.generation:
        return Rejected(RejectionCode.STALE_ATTEMPT, "a newer attempt of the task runs")
    if task.status not in _RETRIED:
        return Rejected(RejectionCode.NOTHING_TO_RETRY, f"the task is {task.status}")
    c.emit(ev.WorkflowRetried)
    log = f"Sub workflow {task.child_workflow_id} retried."
    c.emit(ev.TaskProgressed, task_id=task.task_id, output={}, logs=(log,))
    _run_again(c, [t for t in _failed_tasks(c.state) if t.task_id != task_id], False)
    return c


def rerun(c: Cascade, command: cmd.RerunWorkflow) -> Outcome:
    """From any task of the view (see rerun.py); a stale or unknown task is rejected."""
    if command.rerun_child_id is None and (rejected := _not_terminal(c)) is not None:
        return rejected
    return rerun_from(c, command)
