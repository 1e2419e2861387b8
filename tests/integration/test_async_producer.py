"""The processor's asyncio producer (orchestrator/kafka/aio.py) against the real broker:
``send_all`` resolves once every record of the group is delivered, in the partitions asked
for, and fails with the delivery error when one cannot be."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.aio import POLL_S, AsyncProducer, DeliveryError, producer_config
from orchestrator.kafka.clients import consumer_config
from orchestrator.kafka.topics import TopicSpec
from orchestrator.settings import Settings, load_settings

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic() -> Iterator[tuple[str, str]]:
    bootstrap = load_settings()  # the cluster and its security, from the environment
    name = f"it-aio-{uuid.uuid4().hex[:10]}"
    report = ensure_topics(bootstrap, [TopicSpec(name, 3, {})], 15.0)
    assert report.ok, report.errors
    yield bootstrap, name
    delete_topics(bootstrap, [name])


def read_all(bootstrap: Settings, name: str, count: int) -> list[tuple[int, bytes, bytes]]:
    consumer = Consumer(consumer_config(bootstrap, f"it-aio-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([name])
    got: list[tuple[int, bytes, bytes]] = []
    for _ in range(100):
        for message in consumer.consume(num_messages=500, timeout=0.2):
            if message.error() is None:
                got.append((message.partition(), message.key(), message.value()))
        if len(got) >= count:
            break
    consumer.close()
    return got


def test_send_all_resolves_after_every_record_is_in_its_partition(
    topic: tuple[str, str],
) -> None:
    bootstrap, name = topic

    async def run() -> None:
        producer = AsyncProducer(producer_config(bootstrap), asyncio.get_running_loop())
        records = [(name, f"k{i}".encode(), f"v{i}".encode(), i % 2) for i in range(300)]
        records.append((name, b"by-key", b"v-by-key", None))
        await asyncio.wait_for(producer.send_all(records), 30)
        await asyncio.wait_for(producer.send_all([]), 1)  # nothing to send: resolved at once
        producer.close()

    asyncio.run(run())
    got = read_all(bootstrap, name, 301)
    assert len(got) == 301
    assert {(p, k) for p, k, _ in got if k != b"by-key"} == {
        (i % 2, f"k{i}".encode()) for i in range(300)
    }


def test_send_all_fails_when_a_record_cannot_be_delivered(topic: tuple[str, str]) -> None:
    bootstrap, name = topic

    async def run() -> None:
        producer = AsyncProducer(producer_config(bootstrap), asyncio.get_running_loop())
        records = [(name, b"k", b"ok", 0), (name, b"k", b"no such partition", 7)]
        with pytest.raises(DeliveryError):
            await asyncio.wait_for(producer.send_all(records), 30)
        producer.close()

    asyncio.run(run())


def test_a_delivery_settles_at_once_not_on_the_poll_threads_next_turn(
    topic: tuple[str, str],
) -> None:
    """The poll thread waits up to POLL_S when idle; a delivery report must end that wait."""
    bootstrap, name = topic

    async def run() -> list[float]:
        producer = AsyncProducer(producer_config(bootstrap), asyncio.get_running_loop())
        await asyncio.wait_for(producer.send(name, b"k", b"warm-up", 0), 30)
        took = []
        for i in range(7):
            await asyncio.sleep(0.1)  # the poll thread is back in its idle wait
            started = time.monotonic()
            await asyncio.wait_for(producer.send(name, b"k", f"v{i}".encode(), 0), 30)
            took.append(time.monotonic() - started)
        producer.close()
        return took

    took = asyncio.run(run())
    # settled by the poll's timeout instead, the median would be ~POLL_S / 2 or more
    assert statistics.median(took) < POLL_S / 4, took
