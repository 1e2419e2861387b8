"""What a worker function sees (TaskContext) and how its result becomes a task status.

Pure: no Kafka here, so the mapping is tested on plain values (tests/unit/test_worker_task.py).

| the function...                                  | reported status               |
|--------------------------------------------------|-------------------------------|
| returns a dict (or None)                         | COMPLETED, output = the dict  |
| returns another JSON value                       | COMPLETED, output {"result": v}|
| returns ``InProgress(callback_after_seconds, ..)`` | IN_PROGRESS ("check back later")|
| raises ``TerminalError``                         | FAILED_WITH_TERMINAL_ERROR    |
| raises any other exception                       | FAILED (retried per the TaskDef)|
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus

MAX_TRACEBACK_LINES = 40
MAX_REASON_CHARS = 2000


class TerminalError(Exception):
    """Fail the task for good: FAILED_WITH_TERMINAL_ERROR, never retried.

    ``raise TerminalError("card declined", output={"code": 51})``
    """

    def __init__(self, message: str = "", *, output: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.output = output or {}


@dataclass(frozen=True, slots=True)
class InProgress:
    """Return this to say "not done yet, hand me the task again in N seconds" (IN_PROGRESS).

    As in Conductor, the task goes back to SCHEDULED and the engine re-dispatches the same task
    id after ``callback_after_seconds`` (0: at once); the function runs again and can look at
    ``task.poll_count`` or the output it reported so far.
    """

    callback_after_seconds: int = 0
    output: dict[str, Any] | None = None
    logs: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished run of a worker function, ready to be reported."""

    status: TaskStatus
    output: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    logs: tuple[str, ...] = ()
    callback_after_seconds: int = 0
    extend_lease: bool = False  # IN_PROGRESS heartbeat: the task stays with this worker


def outcome_of_return(value: Any) -> Outcome:
    """The outcome of a function that returned ``value``."""
    if isinstance(value, InProgress):
        return Outcome(
            TaskStatus.IN_PROGRESS,
            _json_output(value.output),
            logs=tuple(value.logs),
            callback_after_seconds=max(0, int(value.callback_after_seconds)),
        )
    if isinstance(value, Outcome):
        return value
    return Outcome(TaskStatus.COMPLETED, _json_output(value))


def outcome_of_exception(exc: BaseException) -> Outcome:
    """FAILED (or FAILED_WITH_TERMINAL_ERROR) with ``"<Type>: message"`` and the traceback."""
    reason = exception_reason(exc)
    logs = traceback_lines(exc)
    if isinstance(exc, TerminalError):
        return Outcome(
            TaskStatus.FAILED_WITH_TERMINAL_ERROR, _json_output(exc.output), reason, logs
        )
    return Outcome(TaskStatus.FAILED, {}, reason, logs)


def failed(reason: str, *, terminal: bool = False, output: dict[str, Any] | None = None) -> Outcome:
    status = TaskStatus.FAILED_WITH_TERMINAL_ERROR if terminal else TaskStatus.FAILED
    return Outcome(status, output or {}, reason[:MAX_REASON_CHARS])


def exception_reason(exc: BaseException) -> str:
    message = str(exc)
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return reason[:MAX_REASON_CHARS]


def traceback_lines(exc: BaseException) -> tuple[str, ...]:
    lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
    if len(lines) > MAX_TRACEBACK_LINES:  # keep the end: where it failed
        lines = ["...", *lines[-MAX_TRACEBACK_LINES:]]
    return tuple(lines)


def _json_output(value: Any) -> dict[str, Any]:
    """The task output: a dict; any other JSON value is wrapped as {"result": value}."""
    output = {} if value is None else value if isinstance(value, dict) else {"result": value}
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OutputNotJSON(f"the task output is not JSON: {exc}") from None
    return output


class OutputNotJSON(TypeError):
    """The function returned something that cannot be reported as JSON."""


Heartbeat = Callable[[int, dict[str, Any] | None, Sequence[str]], None]


class TaskContext:
    """The task a worker function runs, for functions that ask for it.

    A function receives it instead of the input dict when its parameter is annotated
    ``TaskContext`` or named ``task``. The input it holds has its secrets resolved.
    """

    __slots__ = ("_heartbeat", "_logs", "dispatch", "input")

    def __init__(
        self, dispatch: DispatchTask, input: dict[str, Any], heartbeat: Heartbeat | None = None
    ) -> None:
        self.dispatch = dispatch
        self.input = input
        self._heartbeat = heartbeat
        self._logs: list[str] = []

    @property
    def task_id(self) -> str:
        return self.dispatch.task_id

    @property
    def task_type(self) -> str:
        return self.dispatch.task_type

    @property
    def workflow_id(self) -> str:
        return self.dispatch.workflow_instance_id

    @property
    def root_workflow_id(self) -> str:
        return self.dispatch.root_workflow_id or self.dispatch.workflow_instance_id

    @property
    def workflow_type(self) -> str:
        return self.dispatch.workflow_type

    @property
    def reference_task_name(self) -> str:
        return self.dispatch.reference_task_name

    @property
    def correlation_id(self) -> str | None:
        return self.dispatch.correlation_id

    @property
    def retry_count(self) -> int:
        return self.dispatch.retry_count

    @property
    def poll_count(self) -> int:
        return self.dispatch.poll_count

    @property
    def iteration(self) -> int:
        return self.dispatch.iteration

    def log(self, line: str) -> None:
        """Add a line to the task's execution logs (sent with the result)."""
        self._logs.append(str(line))

    @property
    def logs(self) -> tuple[str, ...]:
        return tuple(self._logs)

    def heartbeat(
        self,
        callback_after_seconds: int = 0,
        output: dict[str, Any] | None = None,
        logs: Sequence[str] = (),
    ) -> None:
        """Report IN_PROGRESS now, while the function keeps running.

        Keeps a long task alive (resets its responseTimeoutSeconds: Conductor's extendLease)
        and shares progress in ``output``. Leave ``callback_after_seconds`` at 0 while still
        working: a value > 0 puts the task back to SCHEDULED and asks the engine to hand it out
        again after that many seconds (as returning ``InProgress`` does).
        """
        if self._heartbeat is None:
            raise RuntimeError("this TaskContext is not attached to a running worker")
        self._heartbeat(max(0, int(callback_after_seconds)), output, tuple(logs))

    def __repr__(self) -> str:  # never show the input: it may hold resolved secrets
        return f"TaskContext(task_id={self.task_id!r}, task_type={self.task_type!r})"
