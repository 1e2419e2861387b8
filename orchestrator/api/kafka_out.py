"""The API's Kafka producer: the project's asyncio producer (orchestrator/kafka/aio.py), awaited
per record with a bound, plus the API's own client id and error type.

aio.AsyncProducer already turns confluent-kafka delivery reports into asyncio futures (one poll
thread per producer); this adapter only adds what a request needs: string keys, "wait at most
``timeout_s`` for Kafka's acknowledgement (acks=all)", and ``DeliveryFailed`` for every way a
record can fail to arrive, so the routes answer 503 instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from orchestrator.kafka import aio
from orchestrator.kafka.clients import new_admin, producer_config

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

CLOSE_FLUSH_S = 10.0


class DeliveryFailed(RuntimeError):
    """A record was not acknowledged by Kafka."""


class AsyncProducer:
    """Create it on the event loop that will await its sends (the app's lifespan does)."""

    def __init__(self, kafka: Kafka, **config: Any) -> None:
        # The project's producer settings: idempotent, and the Java-compatible partitioner, so a
        # command lands on the partition whose processor owns the workflow.
        self._kafka = kafka
        self._out = aio.AsyncProducer(
            producer_config(kafka, client_id="orchestrator-api", extra=config),
            asyncio.get_running_loop(),
        )
        self._admin: Any = None

    async def send(
        self, topic: str, key: str, value: bytes | None, timeout_s: float = 10.0
    ) -> None:
        """Produce one record (None: a tombstone) and wait until Kafka has acknowledged it
        (acks=all)."""
        delivered = self._out.send(topic, key.encode("utf-8"), value)
        try:
            await asyncio.wait_for(delivered, timeout_s)
        except aio.DeliveryError as exc:
            raise DeliveryFailed(f"cannot produce to {topic}: {exc}") from None
        except TimeoutError:
            raise DeliveryFailed(f"no acknowledgement from Kafka within {timeout_s:g} s") from None

    def cluster_metadata(self, timeout_s: float, topics: tuple[str, ...] = ()) -> dict[str, Any]:
        """A metadata round trip (health check); raises KafkaException when Kafka is down.

        ``partitions`` has the partition count of each of ``topics`` that exists.
        aio.AsyncProducer does not expose its client's metadata, so an admin client (created on
        the first health check, then reused) asks the same cluster.
        """
        if self._admin is None:
            self._admin = new_admin(self._kafka)
        metadata = self._admin.list_topics(timeout=timeout_s)
        found = metadata.topics
        return {
            "brokers": len(metadata.brokers),
            "cluster_id": metadata.cluster_id,
            "partitions": {
                t: len(found[t].partitions) for t in topics if t in found and found[t].error is None
            },
        }

    def close(self) -> None:
        remaining = self._out.flush(CLOSE_FLUSH_S)
        if remaining:
            log.warning("api producer closed with %d undelivered records", remaining)
        self._out.close(0)
