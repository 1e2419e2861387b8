"""The processor's timer heap: deadlines of the executions it owns, fired as TimerFired commands.

Deadlines are facts in the execution state (ADR 0001); this heap is only an index over them,
fed by `ScheduleTimer` effects and rebuilt from `resume(state)` after a rebalance or restart.
Firing one produces a command; `decide` checks it against the state, so a stale, early or
repeated firing is rejected and never reaches the event log.

`TimerLoop` fires them: it sleeps until the earliest deadline and is woken when an earlier one
is pushed, so an idle processor (no deadline) does not wake at all, where a 20 ms tick woke it
50 times a second (issue #18: most of an idle processor's CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Awaitable, Callable, Iterable
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

    def push(self, timer: ScheduleTimer, partition: int) -> bool:
        """Add a deadline; True if it is now the earliest (a sleeping loop must wake)."""
        key = _key(timer)
        if key in self._keys:
            return False
        self._keys.add(key)
        self._counter += 1
        entry = (timer.due_at, self._counter, timer, partition)
        heapq.heappush(self._heap, entry)
        return self._heap[0] is entry

    def push_all(self, timers: Iterable[ScheduleTimer], partition: int) -> bool:
        earliest = False
        for timer in timers:
            earliest = self.push(timer, partition) or earliest
        return earliest

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


Fire = Callable[[list[DueTimer], int], Awaitable[None]]


class TimerLoop:
    """Fires the heap's deadlines on time, waking only when one is due or an earlier one came.

    ``fire(due, now_ms)`` is awaited for each batch of due deadlines. Deadlines are pushed
    through ``push`` (or to the heap, then ``pushed(earliest)`` with what it returned). They are
    wall-clock ms (they are facts in the state); a sleep is capped at ``max_sleep_s`` so that
    a wall clock stepped forward delays a firing by at most that much.
    """

    def __init__(
        self,
        heap: TimerHeap,
        fire: Fire,
        clock: Callable[[], int],
        max_sleep_s: float = 1.0,
    ) -> None:
        self._heap = heap
        self._fire = fire
        self._clock = clock
        self._max_sleep_s = max_sleep_s
        self._wake = asyncio.Event()
        self.wakeups = 0  # times the loop woke up (tests, diagnostics)

    def push(self, timer: ScheduleTimer, partition: int) -> None:
        """Add a deadline to the heap, waking the loop if it is the new earliest."""
        self.pushed(self._heap.push(timer, partition))

    def pushed(self, earliest: bool = True) -> None:
        """A deadline was pushed; wake the loop if it is earlier than the one it sleeps for."""
        if earliest:
            self._wake.set()

    async def run(self) -> None:
        """Forever (cancelled with the process): fire what is due, then sleep until the next."""
        while True:
            self._wake.clear()  # before looking: a push from now on wakes the sleep below
            now = self._clock()
            due = self._heap.pop_due(now)
            if due:
                await self._fire(due, now)
                continue
            await self._sleep(self._heap.next_due_at(), now)
            self.wakeups += 1

    async def _sleep(self, next_due: int | None, now: int) -> None:
        if next_due is None:
            await self._wake.wait()
            return
        # at least 1 ms: a clock that reads a deadline as not yet due must not spin the loop
        delay = min(max(next_due - now, 1) / 1000, self._max_sleep_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)


def _key(timer: ScheduleTimer) -> TimerKey:
    return (timer.workflow_id, str(timer.kind), timer.task_id, timer.due_at)
