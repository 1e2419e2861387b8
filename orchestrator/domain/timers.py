"""Deadlines derived from the state. react/resume turn them into ScheduleTimer effects; decide
accepts a TimerFired only if the same (kind, task, due_at) is still a deadline of the current
state and is due, so a stale or duplicate firing is a rejection, never an event.

Per task attempt (Conductor's DeciderService rules, measured from the facts in the state):
- TASK_DELAY: SCHEDULED, not yet queued, after startDelay / retry delay -> hand it to the queue
  (a WAIT / HUMAN: start it).
- CALLBACK: back in SCHEDULED after an IN_PROGRESS report with callbackAfterSeconds (or, in
  older logs, IN_PROGRESS with one), not queued -> hand it to the queue again.
- RESPONSE_TIMEOUT: IN_PROGRESS, no update for responseTimeoutSeconds (+ callback).
- TASK_TIMEOUT: timeoutSeconds since the attempt's first start, whatever its status since (a
  worker task, or a WAIT / HUMAN whose TaskDef has one).
- POLL_TIMEOUT: queued but not picked up within pollTimeoutSeconds (from the IN_PROGRESS report
  and its callback, for a task handed out again).
- TOTAL_TIMEOUT: totalTimeoutSeconds since the first attempt was scheduled.
ALERT_ONLY timeouts have no timer (Conductor only logs them). Workflow: WORKFLOW_TIMEOUT with
policy TIME_OUT_WF, timeoutSeconds after the current run started or was last retried.
"""

from __future__ import annotations

from orchestrator.domain.commands import TimerKind
from orchestrator.domain.definitions import TaskTimeoutPolicy, TaskType, WorkflowTimeoutPolicy
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.base import handler_for

Deadline = tuple[TimerKind, int]


def task_deadlines(state: WorkflowState, task: TaskState) -> list[Deadline]:
    if task.status.is_terminal or task.retried or task.generation != state.generation:
        return []
    found: list[Deadline] = []
    handler = handler_for(task.kind)
    handler_due = handler.handler_deadline(state, task)
    if handler_due is not None:
        found.append((TimerKind.HANDLER, handler_due))
    td = task.task_def
    timeouts_apply = td.timeout_policy is not TaskTimeoutPolicy.ALERT_ONLY
    if task.dispatched:
        found.extend(_queue_deadlines(task))
    elif not handler.accepts_reports:
        return found  # run by the engine itself: no TaskDef timeouts
    elif task.status is TaskStatus.SCHEDULED:  # WAIT / HUMAN after a start or retry delay
        found.append((TimerKind.TASK_DELAY, task.available_at))
    if td.timeout_seconds > 0 and timeouts_apply and task.started_at > 0:
        # Conductor's checkTaskTimeout: from the attempt's start, also while it waits again
        # (SCHEDULED after an IN_PROGRESS report), and for WAIT / HUMAN with a TaskDef.
        due = task.started_at + task.start_delay_ms + td.timeout_seconds * 1000
        found.append((TimerKind.TASK_TIMEOUT, due))
    if td.total_timeout_seconds > 0 and timeouts_apply:
        found.append(
            (TimerKind.TOTAL_TIMEOUT, task.first_scheduled_at + td.total_timeout_seconds * 1000)
        )
    return found


def _async_complete(task: TaskState) -> bool:
    """An EVENT task with asyncComplete waits for the API or an event handler: Conductor's
    DeciderService exempts such system tasks from the response timeout."""
    return (
        task.kind == TaskType.EVENT
        and isinstance(task.input, dict)
        and task.input.get("asyncComplete") is True
    )


def _queue_deadlines(task: TaskState) -> list[Deadline]:
    """A dispatched task's deadlines of hand-out and response."""
    td = task.task_def
    timeouts_apply = td.timeout_policy is not TaskTimeoutPolicy.ALERT_ONLY
    callback_ms = task.callback_after_seconds * 1000
    # Back in SCHEDULED after an IN_PROGRESS report (TaskPostponed): waiting from the report.
    waits_since = task.updated_at + callback_ms if task.started_at else task.available_at
    if task.status is TaskStatus.SCHEDULED:
        if not task.queued:
            kind = TimerKind.CALLBACK if task.started_at else TimerKind.TASK_DELAY
            return [(kind, waits_since)]
        if td.poll_timeout_seconds and timeouts_apply:
            due = waits_since + td.poll_timeout_seconds * 1000
            return [(TimerKind.POLL_TIMEOUT, due if task.started_at else due + callback_ms)]
        return []
    found: list[Deadline] = []
    if callback_ms > 0 and not task.queued:
        found.append((TimerKind.CALLBACK, task.updated_at + callback_ms))
    if td.response_timeout_seconds > 0 and not _async_complete(task):
        due = task.updated_at + td.response_timeout_seconds * 1000 + callback_ms
        found.append((TimerKind.RESPONSE_TIMEOUT, due))
    return found


def workflow_deadline(state: WorkflowState) -> int | None:
    definition = state.definition
    if state.is_terminal or definition.timeout_seconds <= 0:
        return None
    if definition.timeout_policy is not WorkflowTimeoutPolicy.TIME_OUT_WF:
        return None
    # A retry restarts the clock (Conductor measures from lastRetriedTime when there is one).
    return max(state.started_at, state.retried_at) + definition.timeout_seconds * 1000


def is_current_deadline(
    state: WorkflowState, kind: TimerKind, task_id: str | None, due_at: int
) -> bool:
    if kind is TimerKind.WORKFLOW_TIMEOUT:
        return task_id is None and workflow_deadline(state) == due_at
    task = state.tasks.get(task_id) if task_id else None
    return task is not None and (kind, due_at) in task_deadlines(state, task)
