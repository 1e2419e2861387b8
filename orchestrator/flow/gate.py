"""The task gate: one owner per gate-topic partition releases held tasks as the limits allow.

A plain confluent-kafka consumer in the group ``<prefix>-gate`` with manual commits. Per assigned
partition it folds every record into a ``PartitionGate`` (gate_state.py) and, once it has read
the partition up to the end it had when assigned, releases what the limits allow on each tick:

1. the dispatches go to their task topics and their delivery is awaited (flush);
2. then a Released record per task goes to the same gate partition, delivery awaited;
3. the committed offset is the partition's commit point: nothing before it is needed to rebuild.

A crash between 1 and 2 hands those tasks out again after the rebuild (at-least-once, like every
hand-off here); the reverse order could lose a task. A delivery failure exits the process: the
next owner rebuilds from the log (ADR 0006). Rebalances use the eager protocol: every assignment
rebuilds from the committed point, so no state survives an ownership change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from orchestrator.codec import wire
from orchestrator.domain.effects import DispatchTask
from orchestrator.engine.registry import DefinitionRegistry, RegistryFollower
from orchestrator.flow.gate_state import Held, Limits, PartitionGate
from orchestrator.flow.presence import PresenceView
from orchestrator.flow.records import Kind, decode_control, encode_control, is_control
from orchestrator.flow.routing import current_limits, limits_of_dispatch, resolve_queue
from orchestrator.flow.status import StatusPublisher, type_counts
from orchestrator.health.beacon import service_beacon
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.clients import (
    cached_lag,
    consumer_config,
    exit_if_fatal,
    producer_config,
    service_membership,
    take,
)
from orchestrator.kafka.dead_letters import dead_letter, describe
from orchestrator.kafka.topics import TopicNames, task_topic_spec
from orchestrator.kafka.transient import QuietLog, is_transient, retry_transient

log = logging.getLogger(__name__)

TICK_S = 0.02  # longest wait for records before deciding again (rate windows open on time)
# ... while some task is held. Holding none, only a record can change that, and a record ends
# the wait at once: the gate wakes twice a second (commits, status, beacon), not 50 times.
IDLE_WAIT_S = 0.5
COMMIT_EVERY_S = 1.0
ACK_GRACE_MS = 10_000  # a released task not started by then stops counting as prefetched
# A hand-out's time is stamped by whoever handed it out (the HTTP bridge, before its answer
# reaches the poller; a worker, when its function starts): it stays in the rate's window this
# much longer, so a late receipt cannot share a window with the next releases.
HANDOUT_SLACK_MS = 100
DELIVERY_TIMEOUT_S = 30.0
PRESENCE_ATTEMPTS = 20


def now_ms() -> int:
    return int(time.time() * 1000)


class Gate:
    def __init__(self, settings: Any, presence: Callable[[], PresenceView] | None = None) -> None:
        self.settings = settings
        self.topics = TopicNames.from_settings(settings)
        self.prefetch: int = settings.flow_gate_prefetch
        self.gate_id = f"gate-{os.uname().nodename}-{os.getpid()}"
        boot = settings  # every client: its bootstrap servers and security
        extra = {
            "enable.auto.commit": False,
            "partition.assignment.strategy": "range",  # eager: every assignment rebuilds
            # A gate that dies is replaced 6 s later, or at once by its restart (static id).
            **service_membership(settings.instance_id),
        }
        self.consumer = Consumer(
            consumer_config(boot, self.topics.gate_group, client_id=self.gate_id, extra=extra)
        )
        # Committed offsets and watermarks are asked on a client of their own (same group id,
        # never subscribed): calls on the consumer from inside its rebalance callback can hang.
        self.meta = Consumer(
            consumer_config(boot, self.topics.gate_group, client_id=f"{self.gate_id}-meta")
        )
        self.producer = Producer(producer_config(boot, client_id=self.gate_id))
        self.registry = DefinitionRegistry()
        self.follower = RegistryFollower(
            boot, self.topics.definitions, self.registry, _decode_definition
        )
        self._new_presence = presence  # a factory: a failed start leaves a view unusable
        self.presence: PresenceView | None = None
        self.status = StatusPublisher(self.producer, self.topics.gate_status, self.gate_id)
        self.beacon = service_beacon(settings, "gate", self.gate_id)  # health heartbeats
        self._last_batch_ms: int | None = None
        self.parts: dict[int, PartitionGate] = {}
        self.catching_up: dict[int, int] = {}  # partition -> offset to reach before deciding
        self.embedded: dict[str, Limits] = {}  # limits the latest dispatch of a name carried
        self.known_topics: set[str] = set()
        self._last_commit = 0.0
        self._failed: str | None = None  # the first delivery error seen
        self._quiet = QuietLog(log)

    # -- lifecycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.follower.start()
        self._start_presence()
        self.consumer.subscribe(
            [self.topics.gate],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("gate %s running", self.gate_id)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except KafkaException as exc:  # a broker restart, a leader moving: wait it out
                    if not is_transient(exc.args[0] if exc.args else None):
                        raise
                    self._quiet.warning("gate: step", "gate: %s", exc)
                    time.sleep(1.0)
        finally:
            self._on_revoke(
                self.consumer, [TopicPartition(self.topics.gate, p) for p in self.parts]
            )
            self.consumer.close()
            self.beacon.close()
            self.meta.close()
            self.follower.stop()
            if self.presence is not None:
                self.presence.stop()

    def _start_presence(self) -> None:
        """A just-created presence topic may have no leader yet: retry for a while."""
        if self._new_presence is None:
            return
        for attempt in range(1, PRESENCE_ATTEMPTS + 1):
            view = self._new_presence()
            try:
                view.start()
            except Exception as exc:  # KafkaException (no leader yet), a topic not created
                log.warning("gate: presence view not started (attempt %d): %s", attempt, exc)
                view.stop()
                time.sleep(1.0)
                continue
            self.presence = view
            return
        raise RuntimeError("gate: the presence view did not start")

    def step(self) -> None:
        msgs = take(self.consumer, 2000, TICK_S if self._holding() else IDLE_WAIT_S)
        for msg in msgs:
            error = msg.error()
            if error is None:
                self._quiet.clear_all("", "gate topic: reading again")
                self._fold(msg)
            else:
                exit_if_fatal(error, "gate")
                if error.code() != KafkaError._PARTITION_EOF:
                    self._quiet.warning(f"{error.code()}", "gate topic: %s", error)
        if msgs:
            self._last_batch_ms = now_ms()
        now = now_ms()
        for p, part in list(self.parts.items()):
            if p not in self.catching_up:
                self._release(p, part, now)
        if time.monotonic() - self._last_commit >= COMMIT_EVERY_S:
            self._commit(list(self.parts), asynchronous=True)
            ready = {p: part for p, part in self.parts.items() if p not in self.catching_up}
            self.status.publish(type_counts(ready.values(), self.limits, now), now)
            self._last_commit = time.monotonic()
        self._beat()

    def _holding(self) -> bool:
        """Some task waits to be released (a rate window may open, a slot free up, in time)."""
        return any(g.pending for part in self.parts.values() for g in part.types.values())

    # -- folding ----------------------------------------------------------------------------

    def _fold(self, msg: Any) -> None:
        p, offset = msg.partition(), msg.offset()
        part = self.parts.get(p)
        if part is None:
            return
        part.position = offset + 1
        name = (msg.key() or b"").decode("utf-8", "replace")
        value = msg.value()
        try:
            if is_control(value):
                self._fold_control(part, name, decode_control(value), offset)
            else:
                # Payloads in the store stay references: the gate never reads them (ADR 0011).
                dispatch = wire.decode_dispatch(value, resolve=False)
                self.embedded[name] = limits_of_dispatch(dispatch)
                held = Held(dispatch.task_id, dispatch.workflow_priority, offset, dispatch)
                part.gate(name).dispatch(held)
        except Exception as exc:  # a bad record must not stop the gate: set it aside
            self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
        target = self.catching_up.get(p)
        if target is not None and part.position >= target:
            del self.catching_up[p]
            log.info("gate partition %s rebuilt up to offset %s", p, part.position)

    @staticmethod
    def _fold_control(part: PartitionGate, name: str, record: Any, offset: int) -> None:
        gate = part.gate(name)
        if record.kind is Kind.RELEASED:
            gate.released(record.task_id, record.at, offset)
        elif record.kind is Kind.STARTED:
            gate.started(record.task_id, record.at, offset)
        else:
            gate.ended_notice(record.task_id, record.at, record.start, offset)

    # -- releasing --------------------------------------------------------------------------

    def limits(self, name: str) -> Limits:
        return current_limits(self.registry, name, self.embedded.get(name, Limits()))

    def _release(self, p: int, part: PartitionGate, now: int) -> None:
        batch: list[tuple[str, DispatchTask]] = []
        for name, gate in part.types.items():
            if gate.pending:
                limits = self.limits(name)
                for held in gate.due(now, limits, self.prefetch, ACK_GRACE_MS, HANDOUT_SLACK_MS):
                    batch.append((name, held.payload))
        if not batch:
            return
        resolved = [(name, resolve_queue(d, self.presence)) for name, d in batch]
        self._ensure_task_topics({(d.task_type, d.domain) for _, d in resolved})
        for _, d in resolved:
            topic = self.topics.task(d.task_type, d.domain)
            self._produce(topic, d.task_id.encode(), wire.encode_dispatch(d), None)
        self._flush_or_die("released tasks")
        for name, d in resolved:
            record = encode_control(Kind.RELEASED, d.task_id, now)
            self._produce(self.topics.gate, name.encode(), record, p)
        self._flush_or_die("released records")
        log.debug("gate partition %s released %d task(s)", p, len(resolved))

    def _dead_letter(self, msg: Any, reason: str) -> None:
        log.error("gate: record %s set aside: %s", describe(msg), reason)
        key, value = dead_letter(msg, reason, "gate")
        self._produce(self.topics.dlq, key, value, None)

    def _produce(self, topic: str, key: bytes | None, value: bytes, partition: int | None) -> None:
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": self._delivered}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                self.producer.produce(topic, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None and self._failed is None:
            self._failed = f"{msg.topic()}: {err}"

    def _flush_or_die(self, what: str) -> None:
        """Await every delivery; a failure or a timeout ends the process (crash-only: the next
        owner rebuilds from the log and holds, or hands out again, whatever was not recorded)."""
        left = self.producer.flush(DELIVERY_TIMEOUT_S)
        if left or self._failed:
            log.critical("gate: %s not delivered (%s left, %s); exiting", what, left, self._failed)
            logging.shutdown()
            os._exit(70)

    def _ensure_task_topics(self, queues: set[tuple[str, str | None]]) -> None:
        missing = [q for q in queues if self.topics.task(*q) not in self.known_topics]
        if not missing:
            return
        specs = [task_topic_spec(self.settings, t, d) for t, d in missing]
        report = ensure_topics(self.settings, specs, 15.0)
        if not report.ok:
            raise RuntimeError(f"cannot create task topics: {report.errors}")
        self.known_topics.update(spec.name for spec in specs)

    # -- ownership --------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Every assigned partition is rebuilt from its committed point; no release until the
        fold has reached the end the partition had now."""
        committed = retry_transient(
            lambda: self.meta.committed(partitions, timeout=30), self._quiet, "gate: committed"
        )
        starts = []
        for tp in committed:
            low, high = retry_transient(
                lambda tp=tp: self.meta.get_watermark_offsets(tp, timeout=30, cached=False),
                self._quiet,
                "gate: watermarks",
            )
            start = tp.offset if tp.offset >= 0 else low
            self.parts[tp.partition] = PartitionGate(position=start)
            if high > start:
                self.catching_up[tp.partition] = high
            starts.append(
                TopicPartition(
                    tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                )
            )
        consumer.assign(starts)
        log.info("gate assigned %s", _describe(starts, self.catching_up))
        self._beat(force=True)

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Hand over cleanly: every release already recorded, the commit point committed."""
        self.producer.flush(DELIVERY_TIMEOUT_S)
        mine = [tp.partition for tp in partitions if tp.partition in self.parts]
        self._commit(mine, asynchronous=False)
        self._forget(mine)
        log.info("gate revoked partitions %s", sorted(mine))
        self._beat(force=True)

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._forget([tp.partition for tp in partitions])
        self._beat(force=True)
        log.warning("gate lost partitions %s", sorted(tp.partition for tp in partitions))

    def _forget(self, partitions: list[int]) -> None:
        for p in partitions:
            self.parts.pop(p, None)
            self.catching_up.pop(p, None)

    # -- health (orchestrator/health) ------------------------------------------------------

    def _beat(self, force: bool = False) -> None:
        if not (force or self.beacon.due()):
            return
        topic = self.topics.gate
        positions = {p: part.position for p, part in self.parts.items()}
        self.beacon.beat(
            {topic: [p for p in self.parts if p not in self.catching_up]},
            recovering={topic: list(self.catching_up)},
            lag={topic: cached_lag(self.consumer, topic, positions)},
            last_batch_ms=self._last_batch_ms,
            state="recovering" if self.catching_up else "serving",
            force=force,
        )

    def _commit(self, partitions: list[int], *, asynchronous: bool) -> None:
        offsets = [
            TopicPartition(self.topics.gate, p, self.parts[p].commit_point())
            for p in partitions
            if p in self.parts and p not in self.catching_up
        ]
        if not offsets:
            return
        try:
            if asynchronous:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # e.g. during a rebalance: the next commit catches up
            log.info("gate: commit failed: %s", exc)


def _describe(partitions: list[TopicPartition], catching_up: dict[int, int]) -> str:
    return (
        ", ".join(
            f"{tp.partition}@{tp.offset}"
            + (f"->{catching_up[tp.partition]}" if tp.partition in catching_up else "")
            for tp in partitions
        )
        or "-"
    )


def _decode_definition(data: bytes) -> tuple[str, Any]:
    record = wire.decode_definition(data)
    return record.kind, record.definition
