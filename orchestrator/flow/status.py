"""The task gate's per-type counts on a compacted topic: the "held tasks" metric.

Each gate publishes, for every task definition name it owns, ``{"held", "inFlight",
"releasedInWindow", <limits>, "gate", "at"}`` keyed by the name, when the counts change and at
least every ``REFRESH_S`` seconds. A reader (the API's metrics) reads the topic to its end and
keeps the latest record per name; a record older than ``STALE_MS`` is from a gate that died and
whose types have not been taken over yet (the new owner republishes once it has rebuilt).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from orchestrator.flow.gate_state import Limits, PartitionGate
from orchestrator.kafka.clients import new_reader

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

REFRESH_S = 15.0
STALE_MS = 60_000


def type_counts(
    parts: Iterable[PartitionGate], limits_of: Callable[[str], Limits], now: int
) -> dict[str, dict[str, int]]:
    """The published values of every task definition name in these (rebuilt) partitions."""
    counts: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, gate in part.types.items():
            limits = limits_of(name)
            counts[name] = {
                "held": gate.held,
                "inFlight": len(gate.out),
                # the rate's slots in use: hand-outs in the window, released tasks not yet taken
                "releasedInWindow": sum(1 for _, at in gate.window if at > now - limits.window_ms)
                + len(gate.awaiting),
                "rateLimitPerFrequency": limits.rate,
                "rateLimitFrequencyInSeconds": limits.window_ms // 1000,
                "concurrentExecLimit": limits.concurrency,
            }
    return counts


class StatusPublisher:
    def __init__(self, producer: Any, topic: str, gate_id: str) -> None:
        self.producer = producer
        self.topic = topic
        self.gate_id = gate_id
        self._last: dict[str, dict[str, int]] = {}
        self._last_full = 0.0

    def publish(self, counts: dict[str, dict[str, int]], now: int) -> int:
        """Produce the changed counts (all of them every REFRESH_S); returns how many."""
        full = time.monotonic() - self._last_full >= REFRESH_S
        sent = 0
        for name, values in counts.items():
            if not full and self._last.get(name) == values:
                continue
            record = {"type": name, **values, "gate": self.gate_id, "at": now}
            self.producer.produce(self.topic, key=name.encode(), value=json.dumps(record).encode())
            self._last[name] = values
            sent += 1
        if full:
            self._last_full = time.monotonic()
        self.producer.poll(0)
        return sent


def read_gate_status(kafka: Kafka, topic: str, timeout_s: float = 5.0) -> dict[str, dict[str, Any]]:
    """The latest counts per task definition name, each with ``"stale": bool`` added.

    For the API's metrics: ``held`` is the number of tasks of that type waiting in the gate
    (over their rate or concurrency limit, or behind higher-priority ones).
    """
    consumer = new_reader(
        kafka,
        **{
            "group.id": f"gate-status-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        },
    )
    latest: dict[str, dict[str, Any]] = {}
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        ends = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout_s)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        positions = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + timeout_s
        while any(positions[p] < high for p, high in ends.items()) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is not None:
                    continue
                positions[msg.partition() or 0] = (msg.offset() or 0) + 1
                key, value = msg.key(), msg.value()
                if key is not None and value is not None:
                    latest[key.decode()] = json.loads(value)
    finally:
        consumer.close()
    now = int(time.time() * 1000)
    for record in latest.values():
        record["stale"] = int(record.get("at", 0)) < now - STALE_MS
    return latest
