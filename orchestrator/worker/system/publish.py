"""Publishing to Kafka for the EVENT and KAFKA_PUBLISH executors: wait for the broker's ack.

Our own cluster gets a producer with the project's config (idempotent, murmur2). A task that
names other ``bootStrapServers`` gets its own producer, cached by that string (at most
``MAX_CLUSTERS``, least recently used evicted).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Producer

from orchestrator.kafka.clients import producer_config
from orchestrator.kafka.security import KafkaAccess, access_of

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

MAX_CLUSTERS = 10
DEFAULT_TIMEOUT_MS = 10_000


# A just auto-created topic answers LEADER_NOT_AVAILABLE for a moment: produce waits for it.
_FATAL_TOPIC_ERRORS = (
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.TOPIC_EXCEPTION,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
)


class PublishError(Exception):
    pass


class Publisher:
    """Producers of the EVENT and KAFKA_PUBLISH executors: the project's cluster (with its
    security), or a task's own ``bootStrapServers``. Conductor's task input carries no
    credentials, so another cluster is reached in plaintext; the same servers as the project's
    get the project's security."""

    def __init__(self, kafka: Kafka, client_id: str = "system-worker") -> None:
        self._kafka = access_of(kafka)
        self._own = self._kafka.bootstrap
        self._client_id = client_id
        self._producers: OrderedDict[str, Producer] = OrderedDict()
        self._known_topics: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _producer(self, bootstrap: str | None) -> tuple[str, Producer]:
        servers = bootstrap or self._own
        with self._lock:
            producer = self._producers.get(servers)
            if producer is None:
                target = self._kafka if servers == self._own else KafkaAccess(servers)
                producer = Producer(
                    producer_config(
                        target,
                        client_id=self._client_id,
                        extra={"message.timeout.ms": DEFAULT_TIMEOUT_MS},
                    )
                )
                self._producers[servers] = producer
                while len(self._producers) > MAX_CLUSTERS:
                    _, old = self._producers.popitem(last=False)
                    old.flush(5)
            self._producers.move_to_end(servers)
            return servers, producer

    def publish(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Mapping[str, bytes] | None = None,
        bootstrap: str | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> tuple[int, int]:
        """Produce one record and wait for its delivery; (partition, offset) or PublishError."""
        servers, producer = self._producer(bootstrap)
        self._check_topic(servers, producer, topic, timeout_ms)
        done = threading.Event()
        result: dict[str, Any] = {}

        def delivered(error: KafkaError | None, message: Any) -> None:
            result["error"], result["message"] = error, message
            done.set()

        try:
            producer.produce(
                topic, value=value, key=key, headers=dict(headers or {}), on_delivery=delivered
            )
        except (BufferError, KafkaException) as exc:
            raise PublishError(str(exc)) from None
        waited = 0.0
        while not done.is_set() and waited < timeout_ms / 1000 + 1:
            producer.poll(0.05)
            waited += 0.05
        if not done.is_set():
            raise PublishError(f"no acknowledgement from {servers} within {timeout_ms} ms")
        if result["error"] is not None:
            raise PublishError(result["error"].str())
        message = result["message"]
        return message.partition(), message.offset()

    def _check_topic(self, servers: str, producer: Producer, topic: str, timeout_ms: int) -> None:
        """Fail fast on a missing topic (librdkafka would wait message.timeout.ms)."""
        if (servers, topic) in self._known_topics:
            return
        try:
            metadata = producer.list_topics(topic, timeout=min(timeout_ms, 5000) / 1000)
        except KafkaException as exc:
            raise PublishError(f"cannot reach Kafka at {servers}: {exc}") from None
        found = metadata.topics.get(topic)
        if found is None:
            raise PublishError(f"topic {topic!r} does not exist")
        if found.error is not None and found.error.code() in _FATAL_TOPIC_ERRORS:
            raise PublishError(f"topic {topic!r} is not available: {found.error.str()}")
        self._known_topics.add((servers, topic))

    def close(self) -> None:
        with self._lock:
            for producer in self._producers.values():
                producer.flush(5)
            self._producers.clear()
