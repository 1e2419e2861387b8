"""The poll loop of one task type: Kafka records in, functions run, results out, offsets stored.

One ``TaskRunner`` per worker function, each in its own thread with its own consumer (group
``<prefix>-worker-<type>``, or ``<prefix>-worker-<domain>.<type>`` for a domain), so worker
processes of the same type share the task topic's partitions. The results of all runners go
through one shared producer.

At-least-once: a record's offset is stored only after its result was delivered to the commands
topic (``enable.auto.offset.store=false``; the consumer's auto-commit then commits what was
stored). A task running in this process is not started twice when its dispatch arrives again.

Flow control: ``orchestrator/worker/window.py``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from orchestrator.codec import wire
from orchestrator.domain.effects import DispatchTask
from orchestrator.flow.presence import PresenceAnnouncer
from orchestrator.kafka.clients import new_consumer, take
from orchestrator.kafka.dead_letters import dead_letter, describe
from orchestrator.kafka.topics import TopicNames
from orchestrator.kafka.transient import Backoff, QuietLog, is_transient
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.worker.acks import DeferredAcks
from orchestrator.worker.execute import SecretLookup, run_async, run_sync
from orchestrator.worker.offsets import OffsetTracker, Partition
from orchestrator.worker.pools import LoopPool, ThreadPool
from orchestrator.worker.registry import WorkerSpec
from orchestrator.worker.reporter import Reporter, now_ms
from orchestrator.worker.task import Outcome
from orchestrator.worker.window import PAUSE_AFTER_S, Window

log = logging.getLogger(__name__)
DELIVERY_ATTEMPTS = 3
# How long one poll may block. Deliveries do not need an earlier return: they only ever free
# room, and the loop waits for room on its delivery queue (``_wait_for_room``), not on Kafka.
# A 10 ms poll while results were in flight woke each loop ~100 times a second for nothing.
_IDLE_POLL_S = 0.1
_ROOM_WAIT_S = 0.05


def group_id(prefix: str, spec: WorkerSpec) -> str:
    queue_name = f"{spec.domain}.{spec.task_type}" if spec.domain else spec.task_type
    return f"{prefix}-worker-{queue_name}"


@dataclass(slots=True)
class _Done:
    """A result whose delivery ended (successfully or not), back on the poll thread."""

    tp: Partition
    offset: int
    dispatch: DispatchTask
    outcome: Outcome
    error: Any
    attempt: int
    started_at: int | None  # carried by the report: the task was never acknowledged


class TaskRunner:
    def __init__(
        self,
        spec: WorkerSpec,
        settings: Any,
        reporter: Reporter,
        secrets: SecretLookup,
        stop: threading.Event,
        grace_seconds: float = 30.0,
        presence: PresenceAnnouncer | None = None,
    ) -> None:
        self.spec = spec
        self.presence = presence  # announces this loop's polls (task domains' "active")
        self.reporter = reporter
        self.secrets = secrets
        self.stop = stop
        self.grace_seconds = grace_seconds
        names = TopicNames.from_settings(settings)
        self.topic = names.task(spec.task_type, spec.domain)
        self.dlq = names.dlq
        self.group = group_id(settings.topic_prefix, spec)
        self.consumer = new_consumer(
            settings, self.group, client_id=f"{reporter.worker_id}:{spec.task_type}"
        )
        self.tracker = OffsetTracker()
        self.acks = DeferredAcks(reporter, spec.ack_after_ms)
        self.running: set[str] = set()  # task ids; touched by the poll thread only
        self._done: queue.SimpleQueue[_Done | None] = queue.SimpleQueue()
        self._paused: set[Partition] = set()
        self._to_store: dict[Partition, int] = {}  # positions not yet stored (one call a step)
        self.window = Window(2 * spec.concurrency)
        self._quiet = QuietLog(log)
        self._store_backoff = Backoff(cap=2.0)
        self._rewound: set[Partition] = set()  # partitions read again from a record (this step)
        self._pool: ThreadPool | LoopPool = (
            LoopPool(f"worker-{spec.task_type}", spec.concurrency)
            if spec.is_async
            else ThreadPool(f"worker-{spec.task_type}", spec.concurrency)
        )

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        self.consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not self.stop.is_set():
                try:
                    self._step()
                except KafkaException as exc:  # a broker restart, a leader moving: wait it out
                    if not is_transient(exc.args[0] if exc.args else None):
                        raise
                    self._quiet.warning("step", "worker %s: %s", self.spec.task_type, exc)
                    self._store_backoff.sleep(self.stop.is_set)
            self._drain()
        except Exception:
            log.exception("worker %s stopped on an error", self.spec.task_type)
            raise
        finally:
            self._pool.shutdown()
            self._close()

    def _step(self) -> None:
        self._apply_deliveries()
        self.acks.send_due()
        if self.presence is not None:  # throttled inside: a clock read on most steps
            self.presence.polled(self.spec.task_type, self.spec.domain, self.reporter.worker_id)
        free = self.window.free(self.tracker.in_flight())
        if free <= 0:
            self._wait_for_room()
        else:
            self.window.has_room()
            self._resume()
            timeout = min(_IDLE_POLL_S, self.acks.next_due_in())  # acknowledgements on time
            self._rewound.clear()
            for message in take(self.consumer, min(self.spec.poll_batch, free), timeout):
                self._accept(message)
        self._store_positions()

    def _wait_for_room(self) -> None:
        if self.window.full_for(time.monotonic()) < PAUSE_AFTER_S:
            with contextlib.suppress(queue.Empty):  # a delivery or an ended execution: wake
                self._apply_done(self._done.get(timeout=_ROOM_WAIT_S))
            return
        self._pause()  # long tasks: keep polling (group membership) but take nothing new
        for message in take(self.consumer, 1, _IDLE_POLL_S / 2):
            self._accept(message)  # fetched before the pause took effect: never drop one

    def _drain(self) -> None:
        """Shutdown: take nothing new, drop what has not started, give running tasks the
        grace period to finish and their results time to be delivered."""
        self._pause()
        dropped = self._pool.discard_pending()
        deadline = time.monotonic() + self.grace_seconds
        while self._pool.busy and time.monotonic() < deadline:
            self.reporter.producer.poll(0)  # the group's delivery thread may have stopped
            self._apply_deliveries()
            self._store_positions()
            self.consumer.consume(num_messages=1, timeout=0.05)
        self.reporter.producer.flush(max(0.5, deadline - time.monotonic()))
        self._apply_deliveries()
        self._store_positions()
        if self._pool.busy or dropped:
            log.warning(
                "worker %s: abandoning %d running and %d queued task(s); Kafka will hand them "
                "to another worker",
                self.spec.task_type,
                self._pool.busy,
                dropped,
            )

    def _close(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("worker %s: final commit failed: %s", self.spec.task_type, exc)
        self.consumer.close()

    # -- records in ------------------------------------------------------------------------

    def _accept(self, message: Any) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self._quiet.warning(
                    f"consume:{error.code()}", "worker %s: %s", self.spec.task_type, error
                )
            return
        self._quiet.clear_all("consume:", "worker %s: consuming again", self.spec.task_type)
        tp, offset = (message.topic(), message.partition()), message.offset()
        if tp in self._rewound:
            return  # read again from an earlier record of this partition
        try:
            dispatch = wire.decode_dispatch(message.value())
        except PayloadUnavailable as exc:  # transient: this record again, after a pause
            self._read_again(message, str(exc))
            return
        except Exception as exc:  # CodecError, or anything else one record can cause
            self.tracker.started(tp, offset)
            self._dead_letter(message, f"{type(exc).__name__}: {exc}")
            self._stored(tp, offset)
            return
        if self._quiet.active("payload-store"):
            self._quiet.clear("payload-store", "worker %s: payload store back", self.spec.task_type)
            self._store_backoff.reset()
        self.tracker.started(tp, offset)
        if dispatch.task_id in self.running:
            log.info("task %s is already running here: duplicate dropped", dispatch.task_id)
            self._stored(tp, offset)
            return
        self.running.add(dispatch.task_id)
        self._submit(dispatch, tp, offset)

    def _submit(self, dispatch: DispatchTask, tp: Partition, offset: int) -> None:
        # The hand-out is when the function starts, not when the record was fetched: a task
        # waiting in the pool's queue has not reached the worker yet (rate limits count the
        # former: ADR 0006). Without acknowledgements, every report carries that time.
        started = [0]

        def begin() -> None:
            started[0] = now_ms()
            if self.spec.ack:
                self.acks.taken(dispatch)

        def started_at() -> int | None:
            return self.acks.reported(dispatch.task_id) if self.spec.ack else started[0]

        def beat(callback_after_seconds: int, output: Any, logs: Any) -> None:
            self.reporter.heartbeat(dispatch, callback_after_seconds, output, logs, started_at())

        def finish(outcome: Outcome) -> None:
            _log_outcome(self.spec, dispatch, outcome)
            if self.window.finished():
                self._done.put(None)  # wake the loop waiting for room
            self._report(dispatch, outcome, tp, offset, 1, started_at())

        self.window.submitted()

        if isinstance(self._pool, LoopPool):

            async def job_async() -> None:
                begin()
                finish(await run_async(self.spec, dispatch, self.secrets, beat))

            self._pool.submit(job_async)
        else:

            def job() -> None:
                begin()
                finish(run_sync(self.spec, dispatch, self.secrets, beat))

            self._pool.submit(job)

    def _read_again(self, message: Any, reason: str) -> None:
        """The record cannot be decoded for now (its payload store is unreachable): read its
        partition again from it after a pause; nothing is dead-lettered, nothing skipped."""
        tp = (message.topic(), message.partition())
        self._rewound.add(tp)
        self._quiet.warning("payload-store", "worker %s: %s", self.spec.task_type, reason)
        with contextlib.suppress(KafkaException):  # revoked meanwhile: its new owner reads it
            self.consumer.seek(TopicPartition(tp[0], tp[1], message.offset()))
        self._store_backoff.sleep(self.stop.is_set)

    def _dead_letter(self, message: Any, reason: str) -> None:
        log.error(
            "worker %s: task record %s set aside: %s",
            self.spec.task_type,
            describe(message),
            reason,
        )
        key, value = dead_letter(message, reason, f"worker:{self.reporter.worker_id}")
        while True:
            try:
                self.reporter.producer.produce(self.dlq, value=value, key=key)
                return
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                self.reporter.producer.poll(0.1)
            except KafkaException as exc:
                log.error("worker %s: dead letter not produced: %s", self.spec.task_type, exc)
                return

    # -- results out -----------------------------------------------------------------------

    def _report(
        self,
        dispatch: DispatchTask,
        outcome: Outcome,
        tp: Partition,
        offset: int,
        attempt: int,
        started_at: int | None,
    ) -> None:
        def delivered(error: Any, _message: Any) -> None:
            self._done.put(_Done(tp, offset, dispatch, outcome, error, attempt, started_at))

        self.reporter.report(dispatch, outcome, delivered, started_at)

    def _apply_deliveries(self) -> None:
        """Handle the delivery reports queued so far. The group's delivery thread (group.py)
        serves the producer's callbacks; the loop does not poll the producer itself."""
        take = self._done.get_nowait
        while True:
            try:
                done = take()
            except queue.Empty:
                return
            self._apply_done(done)

    def _apply_done(self, done: _Done | None) -> None:
        if done is None:  # a wake-up: an execution ended (its room is counted already)
            return
        if done.error is not None and done.attempt < DELIVERY_ATTEMPTS:
            log.warning(
                "task %s: result not delivered (%s), retrying", done.dispatch.task_id, done.error
            )
            self._report(
                done.dispatch,
                done.outcome,
                done.tp,
                done.offset,
                done.attempt + 1,
                done.started_at,
            )
            return
        if done.error is not None:  # the engine's responseTimeout will hand it out again
            log.error(
                "task %s: result lost after %d attempts: %s",
                done.dispatch.task_id,
                done.attempt,
                done.error,
            )
        self.running.discard(done.dispatch.task_id)
        self._stored(done.tp, done.offset)

    def _stored(self, tp: Partition, offset: int) -> None:
        """The record at ``offset`` is done; its position is stored by ``_store_positions``."""
        position = self.tracker.finished(tp, offset)
        if position is not None:
            self._to_store[tp] = position

    def _store_positions(self) -> None:
        """One ``store_offsets`` for every partition whose position advanced since the last."""
        if not self._to_store:
            return
        offsets = [TopicPartition(t, p, position) for (t, p), position in self._to_store.items()]
        self._to_store.clear()
        try:
            self.consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # a partition was revoked meanwhile
            log.debug("cannot store offsets %s: %s", offsets, exc)
            for tp in offsets:  # store the others one by one
                with contextlib.suppress(KafkaException):
                    self.consumer.store_offsets(offsets=[tp])

    # -- flow control and rebalances -------------------------------------------------------

    def _pause(self) -> None:
        assignment = [
            tp for tp in self.consumer.assignment() if (tp.topic, tp.partition) not in self._paused
        ]
        if assignment:
            self.consumer.pause(assignment)
            self._paused.update((tp.topic, tp.partition) for tp in assignment)

    def _resume(self) -> None:
        if self._paused:
            self.consumer.resume([TopicPartition(t, p) for t, p in self._paused])
            self._paused.clear()

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("worker %s: assigned %s", self.spec.task_type, _names(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        log.info("worker %s: revoked %s", self.spec.task_type, _names(partitions))
        self._apply_deliveries()
        self._store_positions()
        # Hand over the newest stored positions; nothing stored, or the group already moved
        # on: redelivery covers it.
        with contextlib.suppress(KafkaException):
            consumer.commit(asynchronous=False)
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        self.tracker.forget(revoked)
        self._paused.difference_update(revoked)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "-"


def _log_outcome(spec: WorkerSpec, dispatch: DispatchTask, outcome: Outcome) -> None:
    if outcome.reason:  # already redacted: secrets never reach the log
        log.warning(
            "task %s (%s) %s: %s", dispatch.task_id, spec.task_type, outcome.status, outcome.reason
        )
    else:
        log.debug("task %s (%s) %s", dispatch.task_id, spec.task_type, outcome.status)
