"""Kafka records -> what apply.py applies (events, definition changes), via the wire codec.

A record that cannot be decoded raises ``Undecodable`` with the reason; the projector puts it on
the dead-letter topic (orchestrator/kafka/dead_letters.py) and skips it. A payload store that
cannot be reached raises ``PayloadUnavailable`` (transient): the projector reads the batch
again later, nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Message

from orchestrator.codec import CodecError
from orchestrator.codec.wire import Wire
from orchestrator.codec.wire_infra import DefinitionRecord
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.definitions_json import task_def_to_json, workflow_def_to_json
from orchestrator.domain.event_handlers import EventHandler, event_handler_to_json
from orchestrator.domain.events import EventBase
from orchestrator.kafka.dead_letters import dead_letter as build_dead_letter
from orchestrator.kafka.topics import TopicNames
from orchestrator.payloads.store import PayloadUnavailable
from projections.apply import Batch, DefinitionChange, LoggedEvent, Position

COMPONENT = "projector"


class Undecodable(ValueError):
    """The record is not something the projector can apply; the message says why."""


def definition_change(record: DefinitionRecord) -> DefinitionChange:
    """The ``definitions`` row of a record (the API writes the very same row directly)."""
    definition = record.definition
    if isinstance(definition, EventHandler):
        body = event_handler_to_json(definition)
        return DefinitionChange(
            "event_handler", definition.name, 0, body, record.registered_at, record.actor
        )
    if isinstance(definition, WorkflowDef):
        return DefinitionChange(
            "workflow",
            definition.name,
            definition.version,
            workflow_def_to_json(definition),
            record.registered_at,
            record.actor,
        )
    return DefinitionChange(
        "task", definition.name, 0, task_def_to_json(definition), record.registered_at, record.actor
    )


def tombstone(key: bytes | None) -> DefinitionChange:
    """The deletion a null value stands for, read from its key (kafka.topics.definition_key)."""
    text = (key or b"").decode("utf-8", errors="replace")
    kind, _, rest = text.partition(":")
    if kind in ("task", "event_handler") and rest:
        return DefinitionChange(kind, rest, 0, None)
    name, _, version = rest.rpartition(":")
    if kind == "workflow" and name and version.isdigit():
        return DefinitionChange("workflow", name, int(version), None)
    raise Undecodable(f"tombstone with a key that names no definition: {text!r}")


def position(message: Message) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed record (never None for a consumed one)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset


def decode_message(
    wire: Wire, topics: TopicNames, message: Message
) -> LoggedEvent | DefinitionChange | None:
    """The decoded record, or None for a record with nothing to apply."""
    value = message.value()
    topic, partition, offset = position(message)
    if topic == topics.definitions:
        if value is None:
            return tombstone(message.key())
        try:
            return definition_change(wire.decode_definition(value))
        except CodecError as exc:
            raise Undecodable(str(exc)) from None
        except Exception as exc:  # whatever else one record can cause
            raise Undecodable(f"{type(exc).__name__}: {exc}") from None
    if value is None:
        raise Undecodable("a null value on the events topic")
    try:
        event = wire.decode_event(value)
    except CodecError as exc:
        raise Undecodable(str(exc)) from None
    except PayloadUnavailable:
        raise  # transient: the batch is read again
    except Exception as exc:  # whatever else one record can cause: set aside, never a crash
        raise Undecodable(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(event, EventBase):
        raise Undecodable(f"not an event: {type(event).__name__}")
    return LoggedEvent(event, topic, partition, offset)


def dead_letter(wire: Wire, message: Message, reason: str) -> tuple[bytes | None, bytes]:
    """(key, value) of the dead letter of ``message`` (the one builder every consumer uses)."""
    return build_dead_letter(message, reason, COMPONENT, wire=wire)


@dataclass(frozen=True, slots=True)
class Item:
    """A record read: what it decoded to, or why it cannot be applied (``reason``)."""

    message: Message
    decoded: LoggedEvent | DefinitionChange | None
    reason: str | None = None


HighWatermark = Callable[[str, int, int], int | None]  # (topic, partition, next offset)


def batch_of(items: list[Item], high: HighWatermark) -> Batch:
    """The batch of ``items``: their events and definitions, and each partition's position past
    the last of them (records set aside included: they are skipped)."""
    batch = Batch()
    ends: dict[tuple[str, int], int] = {}
    latest: dict[tuple[str, int], int] = {}
    for item in items:
        topic, partition, offset = position(item.message)
        where = (topic, partition)
        ends[where] = offset + 1
        decoded = item.decoded
        if isinstance(decoded, LoggedEvent):
            batch.events.append(decoded)
            latest[where] = max(latest.get(where, 0), decoded.event.at)
        elif decoded is not None:
            batch.definitions.append(decoded)
    batch.positions = [
        Position(topic, partition, end, high(topic, partition, end), latest.get((topic, partition)))
        for (topic, partition), end in ends.items()
    ]
    return batch
