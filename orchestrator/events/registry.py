"""The event-handler processes' view of the definitions topic: handlers and workflow versions.

A fold of the compacted definitions topic (``TopicFollower``, from its beginning, in a daemon
thread): every event handler with the time it was registered (where a newly followed user topic
is first read from), and the latest version of every workflow definition (a start_workflow
action without a version is pinned to it, as the REST API pins its starts: ADR 0003).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from orchestrator.codec import CodecError, wire
from orchestrator.codec.wire_infra import EVENT_HANDLER
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.event_actions import handlers_for
from orchestrator.domain.event_handlers import EventHandler, event_type
from orchestrator.kafka.follower import TopicFollower

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)


class HandlerRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, tuple[EventHandler, int]] = {}
        self._versions: dict[str, set[int]] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One definitions-topic record (a tombstone when ``value`` is None); never raises."""
        try:
            if value is None:
                self._remove((key or b"").decode("utf-8", "replace"))
                return
            record = wire.decode_definition(value)
        except (CodecError, ValueError) as exc:
            log.error("event handlers: skipping undecodable definition %r: %s", key, exc)
            return
        with self._lock:
            if isinstance(record.definition, EventHandler):
                self._handlers[record.name] = (record.definition, record.registered_at)
            elif isinstance(record.definition, WorkflowDef):
                self._versions.setdefault(record.name, set()).add(record.definition.version)

    def _remove(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        with self._lock:
            if kind == EVENT_HANDLER:
                self._handlers.pop(rest, None)
            elif kind == "workflow":
                name, _, version = rest.rpartition(":")
                if version.isdigit():
                    self._versions.get(name, set()).discard(int(version))

    def handlers_for(self, event: str) -> list[EventHandler]:
        with self._lock:
            return handlers_for((h for h, _ in self._handlers.values()), event)

    def kafka_topics(self) -> dict[str, int]:
        """Topic -> the earliest registration time of an active ``kafka:<topic>`` handler."""
        topics: dict[str, int] = {}
        with self._lock:
            for handler, at in self._handlers.values():
                kind, topic = event_type(handler.event)
                if handler.active and kind == "kafka":
                    topics[topic] = min(at, topics.get(topic, at))
        return topics

    def latest_version(self, name: str) -> int | None:
        with self._lock:
            versions = self._versions.get(name)
            return max(versions) if versions else None


def follow(kafka: Kafka, topic: str, registry: HandlerRegistry) -> TopicFollower:
    return TopicFollower(kafka, topic, registry.apply, name="event-handler-definitions")
