"""Fake workers: callables given a dispatched task, returning a Reply (or None = never answer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.domain.definitions import JSON
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus


@dataclass(frozen=True)
class Reply:
    status: TaskStatus = TaskStatus.COMPLETED
    output: JSON = field(default_factory=dict)
    reason: str | None = None
    after_ms: int = 0  # how long the worker takes
    callback_after_seconds: int = 0


Worker = Callable[[DispatchTask], Reply | None]


def always(
    output: JSON | Callable[[DispatchTask], JSON] = None,
    status: TaskStatus = TaskStatus.COMPLETED,
    after_ms: int = 0,
) -> Worker:
    def work(task: DispatchTask) -> Reply:
        out = output(task) if callable(output) else (output if output is not None else {})
        return Reply(status=status, output=out, after_ms=after_ms)

    return work


def fail_times(
    n: int,
    output: JSON = None,
    status: TaskStatus = TaskStatus.FAILED,
    reason: str = "boom",
) -> Worker:
    """Fails the first `n` deliveries, then completes."""
    count = {"calls": 0}

    def work(task: DispatchTask) -> Reply:
        count["calls"] += 1
        if count["calls"] <= n:
            return Reply(status=status, reason=f"{reason} #{count['calls']}")
        return Reply(output=output if output is not None else {})

    return work


def slow(after_ms: int, output: JSON = None) -> Worker:
    return always(output, after_ms=after_ms)


def never() -> Worker:
    def work(task: DispatchTask) -> None:
        return None

    return work
