"""The processor's timer heap: deadlines of the executions it owns, fired as TimerFired commands.

Deadlines are facts in the execution state (ADR 0001); this heap is only an index over them,
fed by `ScheduleTimer` effects and rebuilt from `resume(state)` after a rebalance or restart.
Firing one produces a command; `decide` checks it against the state, so a stale, early or
repeated firing is rejected and never reaches the event log.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.domain.commands import TimerFired
from orchestrator.domain.effects import ScheduleTimer

TimerKey = tuple[str, str, str | None, int]  # workflow id, kind, task id, due at


@dataclass(frozen=True, slots=True)
class DueTimer:
    timer: ScheduleTimer
    partition: int

    def command(self, now_ms: int) -> TimerFired:
        t = self.timer
        return TimerFired(
            workflow_id=t.workflow_id,
            root_workflow_id=t.root_workflow_id,
            at=max(now_ms, t.due_at),
            actor="timer",
            kind=t.kind,
            due_at=t.due_at,
            task_id=t.task_id,
        )


class TimerHeap:
    """A min-heap of deadlines with de-duplication; not thread-safe (one event loop owns it)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, ScheduleTimer, int]] = []
        self._keys: set[TimerKey] = set()
        self._counter = 0  # tie-breaker so ScheduleTimer is never compared

    def __len__(self) -> int:
        return len(self._keys)

    def push(self, timer: ScheduleTimer, partition: int) -> None:
        key = _key(timer)
        if key in self._keys:
            return
        self._keys.add(key)
        self._counter += 1
        heapq.heappush(self._heap, (timer.due_at, self._counter, timer, partition))

    def push_all(self, timers: Iterable[ScheduleTimer], partition: int) -> None:
        for timer in timers:
            self.push(timer, partition)

    def next_due_at(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int, limit: int = 10_000) -> list[DueTimer]:
        due: list[DueTimer] = []
        while self._heap and self._heap[0][0] <= now_ms and len(due) < limit:
            _, _, timer, partition = heapq.heappop(self._heap)
            self._keys.discard(_key(timer))
            due.append(DueTimer(timer, partition))
        return due

    def keep_partitions(self, partitions: set[int]) -> None:
        """Forget the deadlines of partitions this process no longer owns."""
        kept = [entry for entry in self._heap if entry[3] in partitions]
        heapq.heapify(kept)
        self._heap = kept
        self._keys = {_key(entry[2]) for entry in kept}


def _key(timer: ScheduleTimer) -> TimerKey:
    return (timer.workflow_id, str(timer.kind), timer.task_id, timer.due_at)
