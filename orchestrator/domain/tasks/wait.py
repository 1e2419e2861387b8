"""WAIT and HUMAN: tasks that wait inside the engine (IN_PROGRESS from the start).

WAIT with `duration` ("2 days 3 hours", "1d 2h 30m 5s") or `until` ("yyyy-MM-dd HH:mm z")
completes when its HANDLER timer fires; the wake-up time is derived from the task's resolved
input and its scheduling time, so the state holds no extra field and a stale or early firing
is rejected by decide (timers.is_current_deadline). A WAIT without either, and every HUMAN, waits
for the task update API (UpdateTaskByRef / ReportTaskResult), as in Conductor.

As Conductor's Wait: both inputs, or one that does not parse, is FAILED_WITH_TERMINAL_ERROR
(never retried); an `until` already past completes at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.durations import parse_duration_ms, parse_until_ms
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.common import BaseHandler

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.commands import TimerFired
    from orchestrator.domain.state import TaskState, WorkflowState

DURATION = "duration"
UNTIL = "until"


class WaitError(ValueError):
    """The WAIT's input cannot give a wake-up time; the message is the task's reason."""


def _given(value: JSON) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def wake_up_at(task_input: JSON, scheduled_at: int) -> int | None:
    """When a WAIT with this resolved input, scheduled at `scheduled_at`, completes; None if it
    waits for the API. Raises WaitError for an input Conductor refuses."""
    params = task_input if isinstance(task_input, dict) else {}
    duration, until = params.get(DURATION), params.get(UNTIL)
    if _given(duration) and _given(until):
        raise WaitError("Both 'duration' and 'until' specified. Please provide only one input")
    try:
        if _given(duration):
            return scheduled_at + parse_duration_ms(str(duration))
        if _given(until):
            return parse_until_ms(str(until))
    except ValueError as error:
        key = DURATION if _given(duration) else UNTIL
        raise WaitError(f"Invalid/Unsupported Wait {key} format: {error}") from None
    return None


class WaitHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.WAIT,)
    accepts_reports = True  # Conductor lets the task update API complete (or fail) a WAIT
    initial_status = TaskStatus.IN_PROGRESS

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        try:
            due = wake_up_at(task.input, task.scheduled_at)
        except WaitError as error:
            c.fail(task.task_id, str(error), status=TaskStatus.FAILED_WITH_TERMINAL_ERROR)
            return
        if due is not None and due <= c.at:
            c.complete(task.task_id, {})

    def handler_deadline(self, state: WorkflowState, task: TaskState) -> int | None:
        if task.status is not TaskStatus.IN_PROGRESS:
            return None
        try:
            return wake_up_at(task.input, task.scheduled_at)
        except WaitError:
            return None  # start() failed such a task; no timer

    def on_timer(self, c: Cascade, task: TaskState, cmd: TimerFired) -> None:
        c.complete(task.task_id, {})


class HumanHandler(BaseHandler):
    """Waits, IN_PROGRESS, until the task update API completes or fails it."""

    kinds: tuple[TaskType, ...] = (TaskType.HUMAN,)
    accepts_reports = True
    initial_status = TaskStatus.IN_PROGRESS
