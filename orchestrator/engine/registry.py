"""Every processor's view of the registered definitions: a fold of the definitions topic.

The definitions topic is compacted and small; each processor reads all of its partitions from
the beginning in a background thread and keeps the latest definition per key. A start that names
a definition this view does not know yet waits (bounded) for the view to catch up with the
topic's end, so a definition registered just before a start is never missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.kafka.follower import TopicFollower

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

# A decoded definitions-topic record: ("workflow", WorkflowDef) / ("task", TaskDef) / None for
# a tombstone (event handlers, "event_handler", are ignored here: orchestrator/events/ keeps
# them). The decoder is injected so this module does not depend on the wire format.
Decoded = tuple[str, Any] | None
Decoder = Callable[[bytes], Decoded]


class DefinitionRegistry:
    """Thread-safe map of workflow definitions (by name and version) and task definitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workflows: dict[str, dict[int, WorkflowDef]] = {}
        self._tasks: dict[str, TaskDef] = {}

    # -- ports for the pure core (Context) -------------------------------------------------

    def workflow_def(self, name: str, version: int | None) -> WorkflowDef | None:
        with self._lock:
            versions = self._workflows.get(name)
            if not versions:
                return None
            if version is None:
                return versions[max(versions)]
            return versions.get(version)

    def task_def(self, name: str) -> TaskDef | None:
        with self._lock:
            return self._tasks.get(name)

    # -- updates ---------------------------------------------------------------------------

    def put(self, definition: Any) -> None:
        """Keep a workflow or task definition; anything else (an event handler) is ignored."""
        with self._lock:
            if isinstance(definition, WorkflowDef):
                self._workflows.setdefault(definition.name, {})[definition.version] = definition
            elif isinstance(definition, TaskDef):
                self._tasks[definition.name] = definition

    def remove(self, key: str) -> None:
        """Apply a tombstone; keys are "workflow:<name>:<version>" or "task:<name>"."""
        kind, _, rest = key.partition(":")
        with self._lock:
            if kind == "task":
                self._tasks.pop(rest, None)
            elif kind == "workflow":
                name, _, version = rest.rpartition(":")
                versions = self._workflows.get(name, {})
                versions.pop(int(version), None) if version.isdigit() else None
                if not versions:
                    self._workflows.pop(name, None)


class RegistryFollower(TopicFollower):
    """Keeps a DefinitionRegistry in step with the definitions topic (a daemon thread)."""

    def __init__(
        self, kafka: Kafka, topic: str, registry: DefinitionRegistry, decode: Decoder
    ) -> None:
        self.registry = registry
        self._decode = decode
        super().__init__(kafka, topic, self._apply_record, name="definitions")

    def _apply_record(self, key: bytes | None, value: bytes | None) -> None:
        try:
            if value is None:
                if key:
                    self.registry.remove(key.decode())
                return
            decoded = self._decode(value)
            if decoded is not None:
                self.registry.put(decoded[1])
        except Exception as exc:  # a bad record must not stop the follower
            log.error("skipping undecodable definition record %r: %s", key, exc)
