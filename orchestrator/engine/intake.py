"""The processor's intake: the commands topic read by our own consumer, offsets committed by us.

faust's consumer handled the commands topic until the takeover test showed it losing work
across rebalances in ways no setting avoided (ADR 0003): partitions left paused, a changelog
recovery that came up short, and commands that neither processor ever decided. The intake keeps
faust's agent as the unit of processing (batches are handed to it through a faust channel) and
takes the Kafka side into its own hands, with a rule simple enough to check:

- one consumer thread polls the commands topic (cooperative-sticky: a rebalance moves only the
  partitions that change owner) and hands what it has gathered to the event loop as one batch
  whenever the processor has room (at most MAX_IN_FLIGHT batches not done): under load the
  batches grow instead of queueing, so the per-batch round trips are paid fewer times;
- an offset is committed only after the processor reports the batch done, which it does after
  its outputs are delivered, and only after ``before_commit`` (the processor writing the states
  of the batches done so far to its changelog) has returned (ADR 0003 write order);
- when partitions are revoked, the callback waits until every batch handed over is done and
  commits, before the new owner can start (no two processors ever decide one partition at
  once, short of a lost session);
- when partitions are assigned, the callback first has the processor load their state from the
  changelog (read to its end) and resume their executions; only then do their records flow.

Group membership (session timeout, static instance id) comes from ``membership``
(``kafka.clients.service_membership``); a fatal consumer error (fenced by another process with
the same instance id) ends the process. The consumer thread publishes the processor's heartbeats
(``heartbeat``, orchestrator/health): the partitions it serves, their lag, its last batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from orchestrator.health.beacon import Beacon
from orchestrator.kafka.clients import (
    cached_lag,
    consumer_config,
    exit_if_fatal,
    service_membership,
    take,
)

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
POLL_S = 0.05
BUSY_POLL_S = 0.002  # while records wait for room: poll briefly, hand over as soon as there is
MAX_BATCH = 5000
MAX_IN_FLIGHT = 3  # batches handed to the loop and not yet done (one deciding, two completing)
COMMIT_EVERY_S = 0.5
CALLBACK_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Record:
    """One command record, shaped like a faust event (``record.message.value`` ...)."""

    message: Message


Batch = list[Record]
Deliver = Callable[[Batch], Awaitable[None]]
Assigned = Callable[[set[int]], Awaitable[None]]
Revoked = Callable[[set[int]], Awaitable[None]]
BeforeCommit = Callable[[], Awaitable[None]]


class CommandIntake:
    def __init__(
        self,
        kafka: Kafka,
        group_id: str,
        topic: str,
        loop: asyncio.AbstractEventLoop,
        *,
        deliver: Deliver,
        on_assigned: Assigned,
        on_revoked: Revoked,
        before_commit: BeforeCommit,
        membership: Mapping[str, Any] | None = None,
        heartbeat: Beacon | None = None,
    ) -> None:
        self.topic = topic
        self.loop = loop
        self.deliver = deliver
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.before_commit = before_commit
        self.consumer = Consumer(
            consumer_config(
                kafka,
                group_id,
                client_id="orchestrator-processor",
                extra={
                    "enable.auto.commit": False,
                    "max.poll.interval.ms": 300_000,
                    **(service_membership(None) if membership is None else membership),
                },
            )
        )
        self._cond = threading.Condition()
        self._in_flight = 0
        self._done: dict[int, int] = {}  # partition -> next offset to commit
        self._committed: dict[int, int] = {}
        self._stop = threading.Event()
        self._pending: Batch = []  # polled, not handed over yet (consumer thread only)
        self._thread = threading.Thread(target=self._run, name="command-intake", daemon=True)
        self.assigned: set[int] = set()
        self.heartbeat = heartbeat
        # The processor's own counters for its heartbeats (read on this thread: plain ints).
        self.stats: Callable[[], dict[str, int]] | None = None
        self.last_batch_ms: int | None = None

    # -- called on the event loop ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def done(self, batch: Batch) -> None:
        """The batch's outputs and state are durable: its offsets may be committed."""
        with self._cond:
            for record in batch:
                m = record.message
                if m.offset + 1 > self._done.get(m.partition, -1):
                    self._done[m.partition] = m.offset + 1
            self._in_flight -= 1
            self._cond.notify_all()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    # -- the consumer thread --------------------------------------------------------------------

    def _run(self) -> None:
        self.consumer.subscribe(
            [self.topic],
            on_assign=self._assign,
            on_revoke=self._revoke,
            on_lost=self._lost,
        )
        last_commit = time.monotonic()
        try:
            while not self._stop.is_set():
                if self._pending and self._has_room():
                    batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                    self._hand_over(batch)
                    continue
                if len(self._pending) >= MAX_BATCH:
                    self._wait_for_room()
                    continue
                wait = BUSY_POLL_S if self._pending else POLL_S
                records = take(self.consumer, MAX_RECORDS, wait)
                self._pending.extend(_record(r) for r in records if not r.error())
                if len(self._pending) < len(records):
                    for r in records:
                        exit_if_fatal(r.error(), "command intake")
                self._beat()
                if time.monotonic() - last_commit >= COMMIT_EVERY_S:
                    self._commit(asynchronous=True)
                    last_commit = time.monotonic()
        except Exception:
            log.critical("command intake failed; exiting so the partitions move", exc_info=True)
            logging.shutdown()
            os._exit(70)
        finally:
            self._close()

    def _has_room(self) -> bool:
        with self._cond:
            return self._in_flight < MAX_IN_FLIGHT

    def _wait_for_room(self) -> None:
        with self._cond:
            while self._in_flight >= MAX_IN_FLIGHT and not self._stop.is_set():
                self._cond.wait(0.1)

    def _hand_over(self, batch: Batch) -> None:
        with self._cond:
            self._in_flight += 1
        self.last_batch_ms = int(time.time() * 1000)
        asyncio.run_coroutine_threadsafe(self.deliver(batch), self.loop).result(CALLBACK_TIMEOUT_S)

    def _drain(self) -> None:
        """Until every batch handed over is done (or the process gives up: exit, replay)."""
        deadline = time.monotonic() + CALLBACK_TIMEOUT_S
        with self._cond:
            while self._in_flight > 0:
                if time.monotonic() > deadline:
                    log.critical(
                        "batches still in flight after %.0f s; exiting", CALLBACK_TIMEOUT_S
                    )
                    logging.shutdown()
                    os._exit(70)
                self._cond.wait(0.1)

    def _commit(self, *, asynchronous: bool, only: set[int] | None = None) -> None:
        with self._cond:
            offsets = [
                TopicPartition(self.topic, p, off)
                for p, off in self._done.items()
                if self._committed.get(p) != off and (only is None or p in only)
            ]
        if not offsets:
            return
        # Every batch behind these offsets is done, so its states are in what this writes.
        self._call(self.before_commit())
        self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        for tp in offsets:
            self._committed[tp.partition] = tp.offset

    def _assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gained = {tp.partition for tp in partitions}
        self._beat(force=True, recovering=gained)
        self._call(self.on_assigned(gained))
        self.assigned |= gained
        self._beat(force=True)

    def _revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {tp.partition for tp in partitions}
        self._drain()
        try:
            self._commit(asynchronous=False, only=lost)
        except Exception:  # the group moved on already: the next owner replays (harmless)
            log.warning("commit on revoke failed for partitions %s", sorted(lost), exc_info=True)
        self._forget(lost)
        self._beat(force=True)
        self._call(self.on_revoked(lost))

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {tp.partition for tp in partitions}
        log.warning("partitions %s lost (session expired): dropping them uncommitted", sorted(lost))
        self._drain()
        self._forget(lost)
        self._beat(force=True)
        self._call(self.on_revoked(lost))

    def _forget(self, partitions: set[int]) -> None:
        """Also drops their records not handed over: never committed, the next owner reads them."""
        self.assigned -= partitions
        self._pending = [r for r in self._pending if r.message.partition not in partitions]
        with self._cond:
            for p in partitions:
                self._done.pop(p, None)
                self._committed.pop(p, None)

    def _call(self, coro: Awaitable[None]) -> None:
        asyncio.run_coroutine_threadsafe(_awaited(coro), self.loop).result(CALLBACK_TIMEOUT_S)

    def _close(self) -> None:
        try:
            self._drain()
            self._commit(asynchronous=False)
        except Exception:
            log.warning("final commit failed", exc_info=True)
        self.consumer.close()
        if self.heartbeat is not None:
            self.heartbeat.close()

    # -- heartbeats (orchestrator/health) -------------------------------------------------------

    def _beat(self, *, force: bool = False, recovering: set[int] | None = None) -> None:
        if self.heartbeat is None or not (force or self.heartbeat.due()):
            return
        self.heartbeat.beat(
            {self.topic: self.assigned},
            recovering={self.topic: recovering or set()},
            lag={self.topic: self._lag()},
            last_batch_ms=self.last_batch_ms,
            state="recovering" if recovering else "serving",
            stats=self.stats() if self.stats is not None else None,
            force=force,
        )

    def _lag(self) -> dict[int, int]:
        """Records not read yet per served partition (no request: see ``cached_lag``)."""
        tps = [TopicPartition(self.topic, p) for p in sorted(self.assigned)]
        try:
            positions = {tp.partition: tp.offset for tp in self.consumer.position(tps)}
        except KafkaException:
            return {}
        return cached_lag(self.consumer, self.topic, positions)


async def _awaited(coro: Awaitable[None]) -> None:
    await coro


def _record(msg: Any) -> Record:
    return Record(Message(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()))
