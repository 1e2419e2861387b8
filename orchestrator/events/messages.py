"""A consumed Kafka record as the event message a handler sees (Conductor's ``Message``).

- ``<p>.event-queues`` (Conductor's internal queues): the key is the event
  (``conductor:<workflow>:<queue>``), the value the message's JSON payload (an object), the
  ``message-id`` header its id (the EVENT task's id; ``<partition>-<offset>`` without it). The
  ``workflow-id`` / ``root-workflow-id`` headers tell which workflow tree published it.
- any other topic, for ``kafka:<topic>`` handlers: Conductor's kafka-event-queue document
  ``{"key", "headers", "payload"}`` (the value as JSON when it parses, else as text), id
  ``<partition>-<offset>``.

A record that cannot be a message raises ``BadMessage`` with the reason (the processor puts it
on the dead-letter topic).
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.domain.event_actions import EventMessage


class BadMessage(ValueError):
    pass


def read_message(msg: Any, event_queues_topic: str) -> tuple[EventMessage, dict[str, str]]:
    """(the message, {workflow id: root workflow id} learnt from its headers)."""
    headers = _headers(msg)
    fallback_id = f"{msg.partition()}-{msg.offset()}"
    if msg.topic() == event_queues_topic:
        return _queue_message(msg, headers, fallback_id)
    document = {"key": _text(msg.key()) or "", "headers": headers, "payload": _payload(msg.value())}
    return EventMessage(f"kafka:{msg.topic()}", fallback_id, document), {}


def _queue_message(
    msg: Any, headers: dict[str, str], fallback_id: str
) -> tuple[EventMessage, dict[str, str]]:
    event = _text(msg.key())
    if not event or not event.startswith("conductor:"):
        raise BadMessage(f"the key {event!r} names no event: expected conductor:<workflow>:<queue>")
    value = msg.value()
    try:
        payload = json.loads(value) if value is not None else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"the payload of {event} is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadMessage(f"the payload of {event} is not a JSON object")
    hints = {}
    if headers.get("workflow-id") and headers.get("root-workflow-id"):
        hints[headers["workflow-id"]] = headers["root-workflow-id"]
    return EventMessage(event, headers.get("message-id") or fallback_id, payload), hints


def _payload(value: bytes | None) -> Any:
    if value is None:
        return None
    text = value.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _headers(msg: Any) -> dict[str, str]:
    return {name: (_text(raw) or "") for name, raw in msg.headers() or []}


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")
