"""Every processor's view of the registered definitions: a fold of the definitions topic.

The definitions topic is compacted and small; each processor reads all of its partitions from
the beginning in a background thread and keeps the latest definition per key. A start that names
a definition this view does not know yet waits (bounded) for the view to catch up with the
topic's end, so a definition registered just before a start is never missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.kafka.clients import take

log = logging.getLogger(__name__)

# A decoded definitions-topic record: ("workflow", WorkflowDef) / ("task", TaskDef) / None for
# a tombstone. The decoder is injected so this module does not depend on the wire format.
Decoded = tuple[str, WorkflowDef | TaskDef] | None
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

    def put(self, definition: WorkflowDef | TaskDef) -> None:
        with self._lock:
            if isinstance(definition, WorkflowDef):
                self._workflows.setdefault(definition.name, {})[definition.version] = definition
            else:
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


class RegistryFollower:
    """Keeps a DefinitionRegistry in step with the definitions topic (a daemon thread)."""

    def __init__(
        self, bootstrap: str, topic: str, registry: DefinitionRegistry, decode: Decoder
    ) -> None:
        self.registry = registry
        self._topic = topic
        self._decode = decode
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "unused-definitions-follower",  # we assign, never commit
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 50,
            }
        )
        # Watermark look-ups get their own client: calls on the consumer that the follower
        # thread is blocked in consume() on can hang.
        self._meta = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "unused-definitions-meta"}
        )
        self._meta_lock = threading.Lock()
        self._stop = threading.Event()
        self._positions: dict[int, int] = {}
        self._pos_lock = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="definitions", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        with self._meta_lock:
            meta = self._meta.list_topics(self._topic, timeout=timeout_s)
        partitions = sorted(meta.topics[self._topic].partitions)
        self._consumer.assign(
            [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions]
        )
        self._thread.start()
        self.wait_caught_up(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
        self._meta.close()

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Block until every partition has been read up to its end as of now."""
        deadline = time.monotonic() + timeout_s
        targets = {}
        with self._meta_lock:
            meta = self._meta.list_topics(self._topic, timeout=timeout_s)
            for p in meta.topics[self._topic].partitions:
                _, high = self._meta.get_watermark_offsets(
                    TopicPartition(self._topic, p), timeout=timeout_s, cached=False
                )
                targets[p] = high
        with self._pos_lock:
            while any(self._positions.get(p, 0) < high for p, high in targets.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pos_lock.wait(left)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in take(self._consumer, 500, 0.2):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        self._advance(msg.partition(), msg.offset())
                    else:
                        log.warning("definitions topic: %s", err)
                    continue
                self._apply(msg.key(), msg.value())
                self._advance(msg.partition(), msg.offset() + 1)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
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

    def _advance(self, partition: int, offset: int) -> None:
        with self._pos_lock:
            if offset > self._positions.get(partition, 0):
                self._positions[partition] = offset
            self._pos_lock.notify_all()
