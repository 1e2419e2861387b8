"""The gate's published counts (the "held tasks" metric)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.flow.gate_state import Held, Limits, PartitionGate
from orchestrator.flow.status import StatusPublisher, type_counts


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, Any]]] = []

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, json.loads(value)))

    def poll(self, _timeout: float) -> int:
        return 0


def partition_with_backlog() -> PartitionGate:
    part = PartitionGate()
    gate = part.gate("resize")
    for i in range(5):
        gate.dispatch(Held(f"t{i}", 0, i))
    gate.due(1_000, Limits(rate=2), 0, 10_000)
    return part


def test_counts_show_held_in_flight_and_the_window_with_the_limits() -> None:
    counts = type_counts([partition_with_backlog()], lambda _: Limits(rate=2), 1_500)

    assert counts == {
        "resize": {
            "held": 3,
            "inFlight": 2,
            "releasedInWindow": 2,
            "rateLimitPerFrequency": 2,
            "rateLimitFrequencyInSeconds": 1,
            "concurrentExecLimit": 0,
        }
    }


def test_publisher_sends_only_changed_counts_keyed_by_name() -> None:
    producer = FakeProducer()
    publisher = StatusPublisher(producer, "acme.gate-status", "gate-1")
    counts = type_counts([partition_with_backlog()], lambda _: Limits(rate=2), 1_500)

    assert publisher.publish(counts, 1_500) == 1  # the first publish is a full one
    assert publisher.publish(counts, 1_600) == 0
    changed = {"resize": {**counts["resize"], "held": 2}}
    assert publisher.publish(changed, 1_700) == 1

    topic, key, record = producer.sent[-1]
    assert (topic, key, record["held"], record["gate"]) == (
        "acme.gate-status",
        b"resize",
        2,
        "gate-1",
    )
