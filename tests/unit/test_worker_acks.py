"""The SDK's deferred acknowledgement (orchestrator/worker/acks.py), with a fake reporter."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.domain.effects import DispatchTask
from orchestrator.worker.acks import DeferredAcks


class FakeReporter:
    def __init__(self) -> None:
        self.acked: list[str] = []

    def started(self, dispatch: DispatchTask) -> None:
        self.acked.append(dispatch.task_id)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def dispatch(task_id: str) -> DispatchTask:
    return SimpleNamespace(task_id=task_id)  # type: ignore[return-value]  # only the id is used


def acks(delay_ms: int) -> tuple[DeferredAcks, FakeReporter, Clock]:
    reporter, clock = FakeReporter(), Clock()
    return DeferredAcks(reporter, delay_ms, clock=clock), reporter, clock  # type: ignore[arg-type]


def test_a_task_reported_before_the_delay_is_never_acknowledged() -> None:
    a, reporter, clock = acks(100)
    a.taken(dispatch("t1"))
    clock.now += 0.05
    assert a.send_due() == 0
    started_at = a.reported("t1")
    assert isinstance(started_at, int) and started_at > 0
    clock.now += 1
    assert a.send_due() == 0
    assert reporter.acked == []


def test_a_task_still_running_after_the_delay_is_acknowledged_once() -> None:
    a, reporter, clock = acks(100)
    a.taken(dispatch("t1"))
    a.taken(dispatch("t2"))
    clock.now += 0.1
    assert a.send_due() == 2
    assert a.send_due() == 0
    assert reporter.acked == ["t1", "t2"]
    assert a.reported("t1") is None  # its report carries no started_at: the pickup went out


def test_zero_delay_acknowledges_at_once() -> None:
    a, reporter, _ = acks(0)
    a.taken(dispatch("t1"))
    assert reporter.acked == ["t1"]
    assert a.reported("t1") is None


def test_acknowledgement_and_report_racing_give_exactly_one_pickup_record() -> None:
    """Whichever wins, the engine hears of the pickup once: as an ack or as started_at."""
    for _ in range(200):
        a, reporter, clock = acks(100)
        a.taken(dispatch("t1"))
        clock.now += 1
        result: list[Any] = []
        racer = threading.Thread(target=lambda: result.append(a.reported("t1")))  # noqa: B023
        racer.start()
        a.send_due()
        racer.join()
        assert (len(reporter.acked), result[0] is not None) in ((1, False), (0, True))


def test_next_due_in_tells_the_poll_loop_how_long_it_may_block() -> None:
    a, _, clock = acks(100)
    assert a.next_due_in() == float("inf")  # nothing pending: block as long as you like
    a.taken(dispatch("t1"))
    clock.now += 0.03
    a.taken(dispatch("t2"))
    assert a.next_due_in() == pytest.approx(0.07)  # the oldest entry is due first
    a.reported("t1")
    assert a.next_due_in() == pytest.approx(0.1)
    clock.now += 0.5
    assert a.next_due_in() == 0.0  # overdue: do not block
    assert a.send_due() == 1
    assert a.next_due_in() == float("inf")
