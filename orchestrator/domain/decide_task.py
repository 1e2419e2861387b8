"""Rules for task-level commands: acks, worker reports, update by ref, skip, child done, timers."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain import ids
from orchestrator.domain.cascade import Cascade
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import TaskTimeoutPolicy
from orchestrator.domain.outcome import Rejected, RejectionCode
from orchestrator.domain.state import TaskState
from orchestrator.domain.statuses import REPORTABLE, TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.base import handler_for
from orchestrator.domain.timers import is_current_deadline

Outcome = Cascade | Rejected


def _open_task(c: Cascade, task_id: str | None) -> TaskState | Rejected:
    """The task a command targets, if the workflow and that attempt are still open."""
    state = c.state
    if state.is_terminal:
        return Rejected(RejectionCode.WORKFLOW_TERMINAL, f"workflow has ended ({state.status})")
    task = state.tasks.get(task_id) if task_id else None
    if task is None:
        return Rejected(RejectionCode.TASK_NOT_FOUND, f"no task {task_id}")
    if task.status.is_terminal:
        return Rejected(RejectionCode.TASK_ALREADY_TERMINAL, f"task is already {task.status}")
    if task.retried or task.generation != state.generation:
        return Rejected(RejectionCode.STALE_ATTEMPT, "not the current attempt of this task")
    return task


def task_started(c: Cascade, command: cmd.TaskStarted) -> Outcome:
    task = _open_task(c, command.task_id)
    if isinstance(task, Rejected):
        return task
    if not task.queued:
        return Rejected(RejectionCode.TASK_NOT_QUEUED, "task is not waiting to be picked up")
    c.emit(ev.TaskPickedUp, task_id=task.task_id, worker_id=command.worker_id)
    return c


def report(c: Cascade, command: cmd.ReportTaskResult) -> Outcome:
    task = _open_task(c, command.task_id)
    if isinstance(task, Rejected):
        return task
    return _apply_result(c, task, command.status, command, command.callback_after_seconds)


def update_by_ref(c: Cascade, command: cmd.UpdateTaskByRef) -> Outcome:
    found = c.state.lookup_ref(command.task_ref)
    task = _open_task(c, found.task_id if found else None)
    if isinstance(task, Rejected):
        return task
    return _apply_result(c, task, command.status, command, 0)


def _apply_result(
    c: Cascade,
    task: TaskState,
    status: TaskStatus,
    command: cmd.ReportTaskResult | cmd.UpdateTaskByRef,
    callback_after_seconds: int,
) -> Outcome:
    if not handler_for(task.kind).accepts_reports:
        return Rejected(RejectionCode.NOT_A_WORKER_TASK, f"{task.kind} tasks are run by the engine")
    if status not in REPORTABLE:
        return Rejected(RejectionCode.INVALID_REQUEST, f"a report cannot set status {status}")
    output = command.output if isinstance(command.output, dict) else {"result": command.output}
    logs: tuple[str, ...] = ()
    started_at: int | None = None
    if isinstance(command, cmd.ReportTaskResult):
        logs = command.logs
        # A started_at only matters while nobody acknowledged the task (else the pickup has it).
        started_at = command.started_at if task.queued else None
    if status is TaskStatus.IN_PROGRESS:
        c.emit(
            ev.TaskPostponed if _postpones(task, command) else ev.TaskProgressed,
            task_id=task.task_id,
            output=output,
            logs=logs,
            callback_after_seconds=max(0, callback_after_seconds),
            worker_id=command.worker_id,
            started_at=started_at,
        )
    elif status is TaskStatus.COMPLETED:
        c.complete(
            task.task_id, output, worker_id=command.worker_id, logs=logs, started_at=started_at
        )
    else:
        reason = command.reason or f"task reported {status}"
        c.fail(
            task.task_id,
            reason,
            status=status,
            output=output,
            worker_id=command.worker_id,
            logs=logs,
            started_at=started_at,
        )
    return c


def _postpones(task: TaskState, command: cmd.ReportTaskResult | cmd.UpdateTaskByRef) -> bool:
    """Conductor's updateTask: IN_PROGRESS puts a worker task back to SCHEDULED, to be handed
    out again after callbackAfterSeconds; a system task (HTTP, WAIT, ...) stays IN_PROGRESS, and
    so does any task on a heartbeat (extendLease: the worker still runs it)."""
    if isinstance(command, cmd.ReportTaskResult) and command.extend_lease:
        return False
    return handler_for(task.kind).requeued_on_progress


def skip(c: Cascade, command: cmd.SkipTask) -> Outcome:
    """Conductor's skipTaskFromWorkflow: only a task not yet reached, on a running workflow."""
    state = c.state
    if state.status is not WorkflowStatus.RUNNING:
        return Rejected(RejectionCode.NOT_RUNNING, f"workflow is {state.status}")
    if index_of(state.definition).task(command.task_ref) is None:
        return Rejected(RejectionCode.TASK_NOT_FOUND, f"no task {command.task_ref} in definition")
    if state.current(command.task_ref) is not None:
        return Rejected(RejectionCode.TASK_ALREADY_PROCESSED, "the task was already reached")
    c.emit(
        ev.TaskSkipped,
        task_id=ids.task_id(state.workflow_id, command.task_ref, 0, state.generation),
        ref=command.task_ref,
        input=command.input,
        output=command.output,
    )
    return c


def child_finished(c: Cascade, command: cmd.ChildWorkflowFinished) -> Outcome:
    task = _open_task(c, command.parent_task_id)
    if isinstance(task, Rejected):
        return task
    if task.child_workflow_id != command.child_workflow_id:
        return Rejected(RejectionCode.STALE_ATTEMPT, "not the child of the current attempt")
    rejected = handler_for(task.kind).on_child_done(c, task, command)
    return rejected if rejected is not None else c


def timer_fired(c: Cascade, command: cmd.TimerFired) -> Outcome:
    state = c.state
    if state.is_terminal:
        return Rejected(RejectionCode.WORKFLOW_TERMINAL, f"workflow has ended ({state.status})")
    due = command.due_at <= command.at
    if not due or not is_current_deadline(state, command.kind, command.task_id, command.due_at):
        return Rejected(RejectionCode.TIMER_STALE, f"{command.kind} at {command.due_at} is not due")
    if command.kind is cmd.TimerKind.WORKFLOW_TIMEOUT:
        seconds = state.definition.timeout_seconds
        c.end_workflow(
            WorkflowStatus.TIMED_OUT,
            f"Workflow timed out after {seconds} seconds. Timeout configured as {seconds} "
            "seconds. Timeout policy configured to TIME_OUT_WF",
        )
        return c
    task = state.tasks[str(command.task_id)]
    _task_timer(c, task, command)
    return c


def _task_timer(c: Cascade, task: TaskState, command: cmd.TimerFired) -> None:
    kind = command.kind
    td = task.task_def
    if kind is cmd.TimerKind.TASK_DELAY and not task.dispatched:
        _start_delayed(c, task)
    elif kind in (cmd.TimerKind.TASK_DELAY, cmd.TimerKind.CALLBACK):
        c.emit(ev.TaskQueued, task_id=task.task_id)
    elif kind is cmd.TimerKind.HANDLER:
        handler_for(task.kind).on_timer(c, task, command)
    elif kind is cmd.TimerKind.RESPONSE_TIMEOUT:
        # Conductor: the attempt is TIMED_OUT and retried per retryCount whatever the policy.
        reason = (
            f"responseTimeout: {td.response_timeout_seconds} exceeded for the taskId: "
            f"{task.task_id} with Task Definition: {task.name}"
        )
        c.fail(task.task_id, reason, status=TaskStatus.TIMED_OUT)
    else:
        reason = {
            cmd.TimerKind.TASK_TIMEOUT: (
                f"Task timed out after {td.timeout_seconds} seconds. "
                f"Timeout configured as {td.timeout_seconds} seconds"
            ),
            cmd.TimerKind.POLL_TIMEOUT: f"Task poll timed out after {td.poll_timeout_seconds} seconds",
            cmd.TimerKind.TOTAL_TIMEOUT: (
                f"Task exceeded total timeout of {td.total_timeout_seconds} seconds"
            ),
        }[kind] + f". Timeout policy configured to {td.timeout_policy}"
        if td.timeout_policy is TaskTimeoutPolicy.TIME_OUT_WF:
            c.emit(ev.TaskFailed, task_id=task.task_id, status=TaskStatus.TIMED_OUT, reason=reason)
            c.end_workflow(
                WorkflowStatus.TIMED_OUT, reason, failed_task=c.state.tasks[task.task_id]
            )
        else:  # RETRY (ALERT_ONLY has no timer)
            c.fail(task.task_id, reason, status=TaskStatus.TIMED_OUT)


def _start_delayed(c: Cascade, task: TaskState) -> None:
    """A WAIT / HUMAN scheduled with a start or retry delay starts now (Conductor hands such
    async system tasks to its system-task worker after the delay): IN_PROGRESS, then its type's
    start (a WAIT's duration counts from here)."""
    c.emit(ev.TaskPickedUp, task_id=task.task_id)
    started = c.state.tasks[task.task_id]
    handler_for(started.kind).start(c, started, c.spec(started))
