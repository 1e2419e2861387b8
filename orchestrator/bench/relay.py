"""The Kafka floor: a raw confluent-kafka consume -> produce relay on this broker and machine.

Relays ``count`` messages of ``size`` bytes from one topic to another in one Python thread with
the project's producer settings (idempotent, acks=all); its messages/s is what a Python process
that does nothing but move records achieves here, to set the events/s of the engine against.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from confluent_kafka import Producer

from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.clients import new_reader
from orchestrator.kafka.topics import TopicSpec

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

MAX_MESSAGES = 300_000
TIMEOUT_S = 120.0


def relay_baseline(kafka: Kafka, prefix: str, count: int, size: int, partitions: int) -> float:
    """Messages/s of the relay (0.0 when nothing was relayed)."""
    count = max(1_000, min(count, MAX_MESSAGES))
    source, sink = f"{prefix}.relay-in", f"{prefix}.relay-out"
    report = ensure_topics(
        kafka, [TopicSpec(source, partitions), TopicSpec(sink, partitions)], 15.0
    )
    if not report.ok:
        raise RuntimeError(f"cannot create the relay topics: {report.errors}")
    _fill(kafka, source, count, max(1, size))
    return _relay(kafka, prefix, source, sink, count)


def _fill(kafka: Kafka, topic: str, count: int, size: int) -> None:
    producer = Producer(producer_config(kafka, **{"client.id": "bench-relay-fill"}))
    payload = os.urandom(size)
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)


def _relay(kafka: Kafka, prefix: str, source: str, sink: str, count: int) -> float:
    consumer = new_reader(
        kafka,
        **{
            "group.id": f"{prefix}-relay",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "fetch.wait.max.ms": 10,
        },
    )
    consumer.subscribe([source])
    producer = Producer(producer_config(kafka, **{"client.id": "bench-relay"}))
    relayed = 0
    started: float | None = None
    deadline = time.monotonic() + TIMEOUT_S
    while relayed < count and time.monotonic() < deadline:
        messages = consumer.consume(1000, 0.1)
        if messages and started is None:
            started = time.perf_counter()  # timing starts with the first record, not the join
        for msg in messages:
            if msg.error() is not None:
                continue
            while True:
                try:
                    producer.produce(sink, key=msg.key(), value=msg.value())
                    break
                except BufferError:
                    producer.poll(0.05)
            relayed += 1
        producer.poll(0)
    producer.flush(60)
    consumer.close()
    if started is None or relayed == 0:
        return 0.0
    return relayed / (time.perf_counter() - started)
