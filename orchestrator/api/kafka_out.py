"""The API's Kafka producer: idempotent, awaited per record from asyncio.

confluent-kafka delivers reports from ``poll``; a small thread polls, and each report resolves
the asyncio future of its record on the event loop, so a request can await "this record is
durable" without blocking the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from orchestrator.kafka.clients import producer_config

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """A record was not acknowledged by Kafka."""


class AsyncProducer:
    def __init__(self, bootstrap: str, **config: Any) -> None:
        # The project's producer settings: idempotent, and the Java-compatible partitioner, so a
        # command lands on the partition whose processor owns the workflow.
        self._producer = Producer(
            producer_config(bootstrap, client_id="orchestrator-api", extra=config)
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="api-producer", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    async def send(self, topic: str, key: str, value: bytes, timeout_s: float = 10.0) -> None:
        """Produce one record and wait until Kafka has acknowledged it (acks=all)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def report(error: KafkaError | None, message: Message) -> None:
            loop.call_soon_threadsafe(_settle, done, error)

        try:
            self._producer.produce(topic, key=key.encode("utf-8"), value=value, on_delivery=report)
        except (KafkaException, BufferError) as exc:
            raise DeliveryFailed(f"cannot produce to {topic}: {exc}") from None
        try:
            await asyncio.wait_for(done, timeout_s)
        except TimeoutError:
            raise DeliveryFailed(f"no acknowledgement from Kafka within {timeout_s:g} s") from None

    def cluster_metadata(self, timeout_s: float) -> dict[str, Any]:
        """A metadata round trip (health check); raises KafkaException when Kafka is down."""
        metadata = self._producer.list_topics(timeout=timeout_s)
        return {"brokers": len(metadata.brokers), "cluster_id": metadata.cluster_id}

    def close(self) -> None:
        remaining = self._producer.flush(10)
        if remaining:
            log.warning("api producer closed with %d undelivered records", remaining)
        self._stopping.set()
        self._thread.join(2)


def _settle(done: asyncio.Future[None], error: KafkaError | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(DeliveryFailed(f"{error.name()}: {error.str()}"))
