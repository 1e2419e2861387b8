"""The one dead-letter builder: every consumer sets aside a record it cannot handle the same way.

    key, value = dead_letter(message, reason, component)
    producer.produce(topics.dlq, key=key, value=value)       # then move the offset on

``message`` is whatever the consumer holds: a confluent-kafka ``Message`` (``topic()``...) or a
record with attributes (the processor's intake ``Message``: ``.topic``...). The result is a
``DeadLetter`` record (schemas/infra/DeadLetter.avsc) keyed like the original record, that
always fits in a Kafka record: a reason is cut to ``MAX_REASON`` characters, and an original
value too large to travel again is left out (the reason says so, with its size and its
position, where it can still be read until the topic's retention removes it).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from orchestrator.codec.wire import Wire, default_wire
from orchestrator.codec.wire_infra import DeadLetter

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

MAX_REASON = 4000  # characters of a reason kept in the record
MAX_KEY = 64 * 1024  # bytes of an original key kept (and used as the dead letter's key)
_SPARE = 2048  # bytes of the record limit left for the fields around the original value


def _field(message: Any, name: str) -> Any:
    value = getattr(message, name)
    return value() if callable(value) else value


def dead_letter(
    message: Any,
    reason: str,
    component: str,
    *,
    wire: Wire | None = None,
    failed_at: int | None = None,
) -> tuple[bytes | None, bytes]:
    """(key, value) of the dead letter for ``message``, to produce to the dead-letter topic.

    ``component``: processor, projector, gate, api:task-bridge, worker:<id>, ...
    """
    wire = wire or default_wire()
    key, value = _field(message, "key"), _field(message, "value")
    if len(reason) > MAX_REASON:
        reason = reason[:MAX_REASON] + f"... ({len(reason)} characters)"
    if key is not None and len(key) > MAX_KEY:
        reason += f" [the original key, {len(key)} bytes, is not copied: too large]"
        key = None
    if value is not None and len(value) + len(key or b"") > wire.record_max - _SPARE:
        reason += f" [the original value, {len(value)} bytes, is not copied: too large]"
        value = None
    letter = DeadLetter(
        topic=str(_field(message, "topic")),
        partition=int(_field(message, "partition")),
        offset=int(_field(message, "offset")),
        key=key,
        value=value,
        reason=reason,
        failed_at=failed_at if failed_at is not None else int(time.time() * 1000),
        component=component,
    )
    return key, wire.encode_dead_letter(letter)


def describe(message: Any) -> str:
    """``topic[partition]@offset`` of a record, for log lines."""
    return f"{_field(message, 'topic')}[{_field(message, 'partition')}]@{_field(message, 'offset')}"


class DeadLetterSink:
    """Dead letters of a consumer that has no producer of its own (a topic follower): produced
    on a producer made on first use, fire and forget (delivery is logged if it fails)."""

    def __init__(self, kafka: Kafka, topic: str, component: str) -> None:
        self.kafka = kafka
        self.topic = topic
        self.component = component
        self._producer: Any = None

    def __call__(self, message: Any, reason: str) -> None:
        log.error("%s: record %s set aside: %s", self.component, describe(message), reason)
        try:
            key, value = dead_letter(message, reason, self.component)
            producer = self._producer or self._new_producer()
            producer.produce(self.topic, key=key, value=value, on_delivery=_report)
            producer.poll(0)
        except Exception:  # never the consumer's end
            log.exception("%s: dead letter for %s not produced", self.component, describe(message))

    def flush(self, timeout_s: float = 5.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout_s)

    def _new_producer(self) -> Any:
        from confluent_kafka import Producer

        from orchestrator.kafka.clients import producer_config

        self._producer = Producer(
            producer_config(self.kafka, client_id=f"{self.component}-dead-letters")
        )
        return self._producer


def _report(error: Any, message: Any) -> None:
    if error is not None:
        log.error("dead letter not delivered to %s: %s", message.topic(), error)
