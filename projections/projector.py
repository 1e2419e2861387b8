"""The projector: events and definitions topics -> Postgres read model.

Position: Postgres (``projector_offsets``) is the only source of truth. On every partition
assignment the consumer seeks to the offsets stored there; it never commits offsets to Kafka.
Each ``consume`` batch is applied by apply.apply_batch in one transaction with its offsets, so a
kill -9 at any moment loses nothing and leaves no partial rows (ADR 0005).

Undecodable records go to the dead-letter topic (flushed before the batch commits, so a record
is never skipped without being in the DLQ) and are skipped.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import psycopg
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from orchestrator.codec.wire import Wire, default_wire
from orchestrator.health.beacon import Beacon, service_beacon
from orchestrator.kafka.clients import (
    client_config,
    consumer_config,
    exit_if_fatal,
    service_membership,
    take,
)
from orchestrator.kafka.topics import TopicNames
from orchestrator.kafka.transient import Backoff, QuietLog, retry_transient
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.settings import Settings
from projections.apply import (
    Batch,
    BatchResult,
    apply_batch,
    stored_positions,
)
from projections.decoding import Item, Undecodable, batch_of, dead_letter, decode_message
from projections.migrate import migrate

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
POLL_TIMEOUT_S = 0.1
PROGRESS_EVERY_S = 5.0
RETRY_DELAY_S = 1.0


def _wire_for(settings: Settings) -> Wire:
    from orchestrator.payloads.setup import configure_process

    configure_process(settings)
    return default_wire()


def consumer_name(settings: Settings) -> str:
    """The consumer group id, also the key of its rows in ``projector_offsets``."""
    return f"{settings.topic_prefix}-projector"


@dataclass(slots=True)
class _Progress:
    started: float
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0


class Projector:
    def __init__(
        self,
        settings: Settings,
        wire: Wire | None = None,
        before_commit: Callable[[Batch], None] | None = None,
    ) -> None:
        self.settings = settings
        self.topics = TopicNames.from_settings(settings)
        self.name = consumer_name(settings)
        # The payload store of these settings (ADR 0011), also when built in-process.
        self.wire = wire or _wire_for(settings)
        self.before_commit = before_commit
        self._stop = False
        self._conn: psycopg.Connection | None = None
        self._consumer: Consumer | None = None
        self._lag: dict[tuple[str, int], int] = {}
        self._assigned: set[tuple[str, int]] = set()
        self._last_batch_ms: int | None = None
        self._beacon: Beacon | None = None
        self._progress = _Progress(time.monotonic())
        self._last_report = time.monotonic()
        self._quiet = QuietLog(log)
        self._backoff = Backoff(cap=5.0)

    # --- lifecycle ---------------------------------------------------------------------------

    def stop(self, *_: object) -> None:
        self._stop = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            log.info("projector: %s received, stopping after the current batch", name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        self._conn = self._connect()
        migrate(self._conn)
        self._consumer = Consumer(self._consumer_config())
        self._beacon = service_beacon(self.settings, "projector", _member_id())
        dlq = Producer(client_config(self.settings, **{"enable.idempotence": True, "linger.ms": 5}))
        topics = [self.topics.events, self.topics.definitions]
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("projector %s reading %s", self.name, ", ".join(topics))
        try:
            while not self._stop:
                messages = take(self._consumer, BATCH_SIZE, POLL_TIMEOUT_S)
                if messages:
                    self._handle(messages, dlq)
                    self._last_batch_ms = int(time.time() * 1000)
                self._report()
                self._beat()
        finally:
            # A dynamic member leaves the group now (its partitions move without a timeout);
            # a static one (instance id) keeps them until its session expires or it returns.
            self._consumer.close()
            self._beacon.close()
            dlq.flush(10)
            self._conn.close()
            log.info("projector stopped")

    def _consumer_config(self) -> dict[str, object]:
        return consumer_config(
            self.settings,
            self.name,
            client_id=_member_id(),
            cooperative=False,  # eager: _on_assign seeks with assign()
            extra={
                "enable.auto.commit": False,  # the position lives in Postgres, not in Kafka
                # A killed projector's partitions move on after 6 s (static id: at its restart).
                **service_membership(self.settings.instance_id),
            },
        )

    def _connect(self) -> psycopg.Connection:
        while True:
            try:
                return psycopg.connect(self.settings.database_url, autocommit=True)
            except psycopg.OperationalError as exc:
                if self._stop:
                    raise
                log.warning("projector: cannot reach Postgres (%s); retrying", exc)
                time.sleep(RETRY_DELAY_S)

    # --- rebalancing: seek to the positions stored in Postgres ------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = retry_transient(
            lambda: self._positions({p.topic for p in partitions}),
            self._quiet,
            "projector: stored positions",
            transient=lambda exc: isinstance(exc, psycopg.OperationalError),
            stop=lambda: self._stop,
        )
        for p in partitions:
            p.offset = stored.get((p.topic, p.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        self._assigned = {(p.topic, p.partition) for p in partitions}
        self._beat(force=True)
        log.info(
            "projector assigned %s",
            ", ".join(f"{p.topic}[{p.partition}]@{p.offset}" for p in partitions),
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Nothing to commit: every batch is committed (with its offsets) before the next poll.
        for p in partitions:
            self._lag.pop((p.topic, p.partition), None)
            self._assigned.discard((p.topic, p.partition))
        self._beat(force=True)

    def _positions(self, topics: set[str]) -> dict[tuple[str, int], int]:
        """The positions Postgres holds; a lost connection is opened again (then retried)."""
        assert self._conn is not None
        try:
            return stored_positions(self._conn, self.name, topics)
        except psycopg.OperationalError:
            self._conn.close()
            self._conn = self._connect()
            raise

    def _rewind(self) -> None:
        """After a failed batch: read again from the positions Postgres holds."""
        assert self._conn is not None and self._consumer is not None
        assigned = self._consumer.assignment()
        stored = stored_positions(self._conn, self.name, {p.topic for p in assigned})
        for p in assigned:
            offset = stored.get((p.topic, p.partition), OFFSET_BEGINNING)
            self._consumer.seek(TopicPartition(p.topic, p.partition, offset))

    # --- one batch ---------------------------------------------------------------------------

    def _handle(self, messages: list[Message], dlq: Producer) -> None:
        try:
            items = self._decode(messages)
        except PayloadUnavailable as exc:  # transient: read the batch again, after a pause
            self._quiet.warning("payload-store", "projector: %s", exc)
            self._rewind()
            self._backoff.sleep(lambda: self._stop)
            return
        if self._quiet.active("payload-store"):
            self._quiet.clear("payload-store", "projector: payload store back")
            self._backoff.reset()
        dead = [(item.message, item.reason) for item in items if item.reason is not None]
        self._set_aside(dlq, dead)
        try:
            result = self._apply(batch_of(items, self._high))
        except psycopg.OperationalError as exc:
            self._reconnect(exc)
            return
        except Exception as exc:  # one record's rows cannot be written: find it, set it aside
            log.warning(
                "projector: a batch of %d records failed (%s: %s); applying them one by one",
                len(items),
                type(exc).__name__,
                exc,
            )
            try:
                result = self._one_by_one(items, dlq)
            except psycopg.OperationalError as again:
                self._reconnect(again)
                return
        self._count(result, len(dead))

    def _apply(self, batch: Batch) -> BatchResult:
        hook = self.before_commit
        assert self._conn is not None
        return apply_batch(
            self._conn, batch, self.name, None if hook is None else lambda: hook(batch)
        )

    def _reconnect(self, exc: Exception) -> None:
        log.warning("projector: batch failed (%s); reconnecting, then reading it again", exc)
        assert self._conn is not None
        self._conn.close()
        time.sleep(RETRY_DELAY_S)
        self._conn = self._connect()
        self._rewind()

    def _one_by_one(self, items: list[Item], dlq: Producer) -> BatchResult:
        """Each record in its own transaction (rows and its offset); one whose rows fail goes
        to the dead-letter topic and only its offset is stored. A database outage
        (OperationalError) is not a record's fault: raised, the batch is read again."""
        applied = duplicates = received = 0
        for item in items:
            try:
                result = self._apply(batch_of([item], self._high))
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                self._set_aside(
                    dlq, [(item.message, f"cannot project: {type(exc).__name__}: {exc}")]
                )
                result = self._apply(batch_of([Item(item.message, None, "set aside")], self._high))
            applied += result.applied
            duplicates += result.duplicates
            received += result.received
        return BatchResult(received, applied, duplicates, frozenset())

    def _set_aside(self, dlq: Producer, dead: list[tuple[Message, str]]) -> None:
        for message, reason in dead:
            self._dead_letter(dlq, message, reason)
        # The DLQ records are durable before the offsets that skip them are committed.
        if dead and dlq.flush(30) > 0:
            raise RuntimeError("dead-letter records not delivered within 30 s")

    def _decode(self, messages: list[Message]) -> list[Item]:
        """One item per record read (consumer errors are logged and left out)."""
        items: list[Item] = []
        for message in messages:
            error = message.error()
            if error is not None:
                exit_if_fatal(error, "projector")
                if error.code() != KafkaError._PARTITION_EOF:
                    self._quiet.warning(f"consume:{error.code()}", "projector: %s", error)
                continue
            self._quiet.clear_all("consume:", "projector: consuming again")
            try:
                items.append(Item(message, decode_message(self.wire, self.topics, message)))
            except Undecodable as exc:
                items.append(Item(message, None, str(exc)))
        return items

    def _high(self, topic: str, partition: int, next_offset: int) -> int | None:
        """The partition's log end offset as of the last fetch (to report lag)."""
        assert self._consumer is not None
        watermarks = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), cached=True
        )
        high = watermarks[1] if watermarks and watermarks[1] >= 0 else None
        self._lag[(topic, partition)] = max(0, (high or next_offset) - next_offset)
        return high

    def _dead_letter(self, dlq: Producer, message: Message, reason: str) -> None:
        log.warning(
            "projector: record %s[%s]@%s set aside: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            reason,
        )
        key, value = dead_letter(self.wire, message, reason)
        while True:
            try:
                dlq.produce(self.topics.dlq, key=key, value=value)
                break
            except BufferError:
                dlq.poll(0.1)
        dlq.poll(0)

    # --- progress ----------------------------------------------------------------------------

    def _count(self, result: BatchResult, dead: int) -> None:
        self._progress.events += result.applied
        self._progress.duplicates += result.duplicates
        self._progress.dead_letters += dead

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._last_report < PROGRESS_EVERY_S:
            return
        p = self._progress
        elapsed = now - self._last_report
        log.info(
            "projector: %.0f events/s, %d duplicates dropped, %d dead letters, lag %d records",
            p.events / elapsed,
            p.duplicates,
            p.dead_letters,
            sum(self._lag.values()),
        )
        self._progress = _Progress(now)
        self._last_report = now

    def _beat(self, force: bool = False) -> None:
        if self._beacon is None or not (force or self._beacon.due()):
            return
        served: dict[str, list[int]] = {}
        lag: dict[str, dict[int, int]] = {}
        for topic, partition in sorted(self._assigned):
            served.setdefault(topic, []).append(partition)
            if (topic, partition) in self._lag:
                lag.setdefault(topic, {})[partition] = self._lag[(topic, partition)]
        self._beacon.beat(served, lag=lag, last_batch_ms=self._last_batch_ms, force=force)

    def lag(self) -> int:
        """Records behind the log end, summed over the assigned partitions (last batch)."""
        return sum(self._lag.values())


def _member_id() -> str:
    return f"projector-{socket.gethostname()}-{os.getpid()}"


def pause_before_commit(path: str) -> Callable[[Batch], None]:
    """A before-commit hook for crash tests: announce (create ``path``), then hang."""
    from pathlib import Path

    def hook(batch: Batch) -> None:
        if batch.events:
            Path(path).write_text(f"{len(batch.events)}\n")
            log.warning("test hook: paused before COMMIT of %d events", len(batch.events))
            time.sleep(3600)

    return hook
