"""The processor's timers (engine/timers.py): the heap says when a pushed deadline is the new
earliest, and the loop sleeps until the earliest deadline (not at all while there is none),
woken when an earlier one is pushed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from orchestrator.domain.commands import TimerKind
from orchestrator.domain.effects import ScheduleTimer
from orchestrator.engine.timers import DueTimer, TimerHeap, TimerLoop

LATE_MS = 250  # how late a firing may be on a loaded 2-core machine (the old tick: 20 ms + load)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def timer(due_at: int, wid: str = "w1") -> ScheduleTimer:
    return ScheduleTimer(due_at=due_at, kind=TimerKind.TASK_DELAY, workflow_id=wid,
                         root_workflow_id=wid, task_id="t1")  # fmt: skip


class Fired:
    def __init__(self) -> None:
        self.items: list[tuple[int, int]] = []  # (due_at, fired at)
        self.arrived = asyncio.Event()

    async def __call__(self, due: list[DueTimer], now: int) -> None:
        self.items.extend((d.timer.due_at, now_ms()) for d in due)
        self.arrived.set()


@contextlib.asynccontextmanager
async def running(loop: TimerLoop) -> AsyncIterator[None]:
    task = asyncio.ensure_future(loop.run())
    await asyncio.sleep(0.01)  # the loop is asleep before the test pushes
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_push_says_when_the_deadline_is_the_new_earliest() -> None:
    heap = TimerHeap()
    assert heap.push(timer(1_000), 0) is True
    assert heap.push(timer(2_000, "w2"), 0) is False  # later than the earliest
    assert heap.push(timer(1_000), 0) is False  # the same deadline again: ignored
    assert heap.push(timer(500, "w3"), 0) is True
    assert heap.push_all([timer(700, "w4"), timer(100, "w5"), timer(900, "w6")], 0) is True
    assert heap.push_all([timer(800, "w7")], 0) is False
    assert heap.next_due_at() == 100


async def test_an_idle_loop_does_not_wake_up() -> None:
    fired = Fired()
    loop = TimerLoop(TimerHeap(), fired, now_ms)
    async with running(loop):
        await asyncio.sleep(0.3)
    assert loop.wakeups == 0  # a 20 ms tick would have woken ~15 times
    assert fired.items == []


async def test_a_deadline_pushed_to_an_idle_loop_fires_on_time() -> None:
    heap, fired = TimerHeap(), Fired()
    loop = TimerLoop(heap, fired, now_ms)
    async with running(loop):
        due = now_ms() + 100
        loop.push(timer(due), 0)
        await asyncio.wait_for(fired.arrived.wait(), 5)
    [(due_at, at)] = fired.items
    assert due_at == due
    assert due <= at < due + LATE_MS
    assert loop.wakeups <= 3  # the push, the deadline (and maybe a clock's rounding)


async def test_an_earlier_deadline_wakes_a_loop_sleeping_for_a_later_one() -> None:
    heap, fired = TimerHeap(), Fired()
    loop = TimerLoop(heap, fired, now_ms, max_sleep_s=60.0)  # no cap to hide behind
    heap.push(timer(now_ms() + 30_000, "later"), 0)
    async with running(loop):
        due = now_ms() + 100
        loop.pushed(heap.push(timer(due, "sooner"), 0))
        await asyncio.wait_for(fired.arrived.wait(), 5)
    assert [d for d, _ in fired.items] == [due]
    assert due <= fired.items[0][1] < due + LATE_MS
    assert len(heap) == 1  # the later one still waits


async def test_a_later_deadline_does_not_wake_the_loop() -> None:
    heap, fired = TimerHeap(), Fired()
    loop = TimerLoop(heap, fired, now_ms, max_sleep_s=60.0)
    heap.push(timer(now_ms() + 30_000, "first"), 0)
    async with running(loop):
        woken = loop.wakeups
        loop.pushed(heap.push(timer(now_ms() + 40_000, "second"), 0))
        await asyncio.sleep(0.2)
    assert loop.wakeups == woken
    assert fired.items == []


async def test_deadlines_already_due_fire_at_once_and_in_order() -> None:
    heap, fired = TimerHeap(), Fired()
    loop = TimerLoop(heap, fired, now_ms)
    past = now_ms() - 1_000
    heap.push_all([timer(past + 2, "b"), timer(past, "a"), timer(past + 1, "c")], 0)
    async with running(loop):
        await asyncio.wait_for(fired.arrived.wait(), 5)
    assert [d for d, _ in fired.items] == [past, past + 1, past + 2]


async def test_a_wall_clock_stepped_forward_fires_within_the_sleep_cap() -> None:
    """Deadlines are wall-clock ms: a clock that jumps past one is noticed within max_sleep_s."""
    heap, fired = TimerHeap(), Fired()
    offset = [0]
    loop = TimerLoop(heap, fired, lambda: now_ms() + offset[0], max_sleep_s=0.1)
    due = now_ms() + 60_000
    heap.push(timer(due), 0)
    async with running(loop):
        offset[0] = 61_000  # the clock steps a minute forward
        await asyncio.wait_for(fired.arrived.wait(), 1)
    assert [d for d, _ in fired.items] == [due]


@pytest.mark.parametrize("early_ms", [0, 1])
async def test_a_clock_reading_a_deadline_as_not_yet_due_does_not_spin(early_ms: int) -> None:
    heap, fired = TimerHeap(), Fired()
    loop = TimerLoop(heap, fired, lambda: now_ms() - early_ms)
    due = now_ms() + 50
    heap.push(timer(due), 0)
    async with running(loop):
        await asyncio.wait_for(fired.arrived.wait(), 5)
    assert loop.wakeups < 10
