"""How long the gate's loop waits for records (flow/gate.py): a tick while some task is held (a
rate window opens on time), far longer while none is (only a record can change that, and a
record ends the wait at once)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from orchestrator.flow import gate as gate_module
from orchestrator.flow.gate import IDLE_WAIT_S, TICK_S, Gate
from orchestrator.flow.gate_state import Held, PartitionGate


class WaitingConsumer:
    """Answers every poll with nothing and notes how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def poll(self, timeout: float) -> Any:
        self.waits.append(timeout)
        return None


def bare_gate(parts: dict[int, PartitionGate]) -> Gate:
    gate = Gate.__new__(Gate)  # no Kafka: only what step() reads
    gate.consumer = WaitingConsumer()
    gate.parts = parts
    gate.catching_up = {}
    gate._last_batch_ms = None
    gate._last_commit = time.monotonic()  # no commit due
    gate._beat = lambda force=False: None  # type: ignore[method-assign]
    gate._release = lambda p, part, now: None  # type: ignore[method-assign]
    return gate


def holding(task_ids: list[str]) -> PartitionGate:
    part = PartitionGate()
    for i, tid in enumerate(task_ids):
        part.gate("limited").dispatch(Held(tid, 0, i))
    return part


@pytest.mark.parametrize(
    ("parts", "wait"),
    [
        ({}, IDLE_WAIT_S),  # nothing assigned
        ({0: PartitionGate(), 1: holding([])}, IDLE_WAIT_S),  # assigned, nothing held
        ({0: PartitionGate(), 1: holding(["t1"])}, TICK_S),  # one task held: tick
    ],
)
def test_the_gate_ticks_only_while_it_holds_a_task(
    parts: dict[int, PartitionGate], wait: float
) -> None:
    gate = bare_gate(parts)
    gate.step()
    assert gate.consumer.waits == [wait]  # type: ignore[attr-defined]


def test_an_idle_gate_waits_long_enough_to_matter_and_short_enough_to_commit() -> None:
    assert IDLE_WAIT_S >= 10 * TICK_S  # 50 wake-ups/s would be ~0.4 % of a core for nothing
    assert IDLE_WAIT_S <= gate_module.COMMIT_EVERY_S  # commits, status and beacon keep pace
