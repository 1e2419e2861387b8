"""One task queue (type, domain) consumed for HTTP pollers: a Kafka consumer in its own thread.

The consumer joins the SAME group as the Kafka SDK workers of that queue
(``<prefix>-worker-<type>`` or ``<prefix>-worker-<domain>.<type>``), so Kafka assigns each
partition, and thereby each task, to exactly one of them. Records fetched are decoded and held
in a small buffer until a poller takes them; only the consumer thread touches the consumer, the
event loop talks to it through the buffer (a lock) and a queue of finished offsets.

Offsets: a record's offset is stored (and then auto-committed) only after the task was handed
out, i.e. after its TaskStarted was delivered. ``OffsetTracker`` keeps the stored position
below any record still buffered or being handed out, so closing the subscription gives every
un-handed-out task back to the group (it is read again by whoever consumes the queue next).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from orchestrator.codec import wire
from orchestrator.domain.effects import DispatchTask
from orchestrator.kafka.clients import new_consumer, take
from orchestrator.kafka.transient import Backoff, QuietLog
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.settings import Settings
from orchestrator.worker.offsets import OffsetTracker, Partition

log = logging.getLogger(__name__)

QueueKey = tuple[str, str | None]  # (task type, domain)
DeadLetterFn = Callable[[Any, str], None]  # (message, reason); called on the consumer thread

BUFFER_SIZE = 16
IDLE_UNSUBSCRIBE_S = 60.0
HAND_OUT_DRAIN_S = 10.0  # at close: how long to wait for hand-outs in progress
# How long one consume may block. With room in the buffer the thread just waits in librdkafka,
# which returns the moment a record arrives, so a long wait costs no latency and keeps an idle
# queue near 0 % CPU (issue #18: 20 Hz wake-ups per queue were a visible share of an idle
# server). Paused (buffer full), it must look again soon for room that pollers made.
_CONSUME_TIMEOUT_S = 0.5
_PAUSED_TIMEOUT_S = 0.05
# An empty fetch is held this long by the broker (fetch.min.bytes = 1 answers at once when a
# record arrives): fewer fetch requests from an idle queue, no added hand-off latency.
_FETCH_WAIT_MAX_MS = 500


def worker_group(prefix: str, task_type: str, domain: str | None) -> str:
    """The consumer group of a queue: the one ``orchestrator.worker`` runners use."""
    queue_name = f"{domain}.{task_type}" if domain else task_type
    return f"{prefix}-worker-{queue_name}"


@dataclass(frozen=True, slots=True)
class Held:
    """A fetched task record, waiting in the buffer or being handed out."""

    tp: Partition
    offset: int
    dispatch: DispatchTask


class Subscription:
    """The buffer of one queue, filled by a consumer thread started with ``start``."""

    def __init__(
        self,
        settings: Settings,
        key: QueueKey,
        topic: str,
        loop: asyncio.AbstractEventLoop,
        dead_letter: DeadLetterFn,
        *,
        buffer_size: int = BUFFER_SIZE,
        idle_s: float = IDLE_UNSUBSCRIBE_S,
    ) -> None:
        self.key = key
        self.topic = topic
        self.group = worker_group(settings.topic_prefix, *key)
        self.buffer_size = buffer_size
        self.idle_s = idle_s
        self._settings = settings
        self._loop = loop
        self._dead_letter = dead_letter
        self._lock = threading.Lock()
        self._buffer: deque[Held] = deque()
        self._in_hand = 0  # taken by a poller, not yet finished or returned
        self._finished: queue.SimpleQueue[tuple[Partition, int]] = queue.SimpleQueue()
        self._tracker = OffsetTracker()  # consumer thread only
        self._paused = False
        self._last_poll = time.monotonic()
        self._pollers = 0
        self._stop = threading.Event()
        self._quiet = QuietLog(log)
        self._backoff = Backoff(cap=2.0)
        self._rewound: set[Partition] = set()  # read again from a record (this fetch)
        self.closed = False  # set under the lock: no new takes once set
        self.assigned: set[Partition] = set()
        self.arrived = asyncio.Event()  # set on the loop when records enter the buffer
        self._thread = threading.Thread(target=self._run, name=f"task-bridge-{topic}", daemon=True)

    # -- the event-loop side ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def poller_enters(self) -> None:
        with self._lock:
            self._pollers += 1
            self._last_poll = time.monotonic()

    def poller_leaves(self) -> None:
        with self._lock:
            self._pollers -= 1
            self._last_poll = time.monotonic()

    def take(self, count: int) -> list[Held]:
        """Up to ``count`` buffered tasks, oldest first; the caller must finish or return each."""
        with self._lock:
            if self.closed:
                return []
            taken = [self._buffer.popleft() for _ in range(min(count, len(self._buffer)))]
            self._in_hand += len(taken)
            return taken

    def finish(self, held: Held) -> None:
        """The task was handed out (or set aside): its offset may be committed."""
        with self._lock:
            self._in_hand -= 1
        self._finished.put((held.tp, held.offset))

    def give_back(self, held: Held) -> None:
        """The hand-out failed (its TaskStarted was not delivered): first in line again."""
        with self._lock:
            self._in_hand -= 1
            if not self.closed and held.tp in self.assigned:
                self._buffer.appendleft(held)
        self.arrived.set()  # called on the loop

    def buffered(self) -> int:
        with self._lock:
            return len(self._buffer)

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)

    # -- the consumer thread ---------------------------------------------------------------

    def _run(self) -> None:
        consumer = new_consumer(
            self._settings,
            self.group,
            client_id=f"orchestrator-api:{self.topic}",
            extra={"fetch.wait.max.ms": _FETCH_WAIT_MAX_MS},
        )
        consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not self._stop.is_set() and not self._idle():
                self._store_finished(consumer)
                self._fetch(consumer)
        except Exception:
            log.exception("task bridge: consumer of %s stopped on an error", self.topic)
        finally:
            self._close(consumer)

    def _idle(self) -> bool:
        with self._lock:
            return self._pollers == 0 and time.monotonic() - self._last_poll > self.idle_s

    def _fetch(self, consumer: Any) -> None:
        room = self.buffer_size - self.buffered()
        if room <= 0:  # full: take nothing new (consume still keeps us in the group)
            assignment = consumer.assignment()
            if assignment:
                consumer.pause(assignment)
            self._paused = True
        elif self._paused:
            assignment = consumer.assignment()
            if assignment:
                consumer.resume(assignment)
            self._paused = False
        self._rewound.clear()
        wait_s = _PAUSED_TIMEOUT_S if self._paused else _CONSUME_TIMEOUT_S
        for message in take(consumer, max(room, 1), wait_s):
            self._accept(consumer, message)

    def _accept(self, consumer: Any, message: Any) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self._quiet.warning(
                    f"consume:{error.code()}", "task bridge: %s: %s", self.topic, error
                )
            return
        self._quiet.clear_all("consume:", "task bridge: consuming %s again", self.topic)
        tp = (message.topic(), message.partition())
        if tp not in self.assigned or tp in self._rewound:
            return  # fetched just before a revocation (its new owner reads it), or read again
        try:
            dispatch = wire.decode_dispatch(message.value())
        except PayloadUnavailable as exc:  # transient: this record again, after a pause
            self._read_again(consumer, message, str(exc))
            return
        except Exception as exc:  # CodecError, or anything else one record can cause
            self._tracker.started(tp, message.offset())
            self._set_aside(message, f"{type(exc).__name__}: {exc}")
            self._finished.put((tp, message.offset()))
            return
        if self._quiet.active("payload-store"):
            self._quiet.clear("payload-store", "task bridge: payload store back")
            self._backoff.reset()
        self._tracker.started(tp, message.offset())
        with self._lock:
            self._buffer.append(Held(tp, message.offset(), dispatch))
        with contextlib.suppress(RuntimeError):  # the loop is gone: we are shutting down
            self._loop.call_soon_threadsafe(self.arrived.set)

    def _read_again(self, consumer: Any, message: Any, reason: str) -> None:
        """Read the partition again from this record after a pause (nothing skipped)."""
        tp = (message.topic(), message.partition())
        self._rewound.add(tp)
        self._quiet.warning("payload-store", "task bridge: %s: %s", self.topic, reason)
        with contextlib.suppress(KafkaException):  # revoked meanwhile: its new owner reads it
            consumer.seek(TopicPartition(tp[0], tp[1], message.offset()))
        self._backoff.sleep(self._stop.is_set)

    def _set_aside(self, message: Any, reason: str) -> None:
        """To the dead-letter topic; a failure to do so is logged, never the consumer's end."""
        try:
            self._dead_letter(message, reason)
        except Exception:
            log.exception("task bridge: dead letter for %s not produced", self.topic)

    def _store_finished(self, consumer: Any) -> None:
        while True:
            try:
                tp, offset = self._finished.get_nowait()
            except queue.Empty:
                return
            position = self._tracker.finished(tp, offset)
            if position is None:
                continue
            try:
                consumer.store_offsets(offsets=[TopicPartition(*tp, position)])
            except KafkaException as exc:  # revoked meanwhile: the new owner re-reads it
                log.debug("task bridge: cannot store %s@%s: %s", tp, position, exc)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self.assigned.update((tp.topic, tp.partition) for tp in partitions)
        log.info("task bridge: %s assigned %s", self.group, _names(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Partitions leave: hand over what was handed out, drop the rest from the buffer."""
        log.info("task bridge: %s revoked %s", self.group, _names(partitions))
        self._store_finished(consumer)
        with contextlib.suppress(KafkaException):
            consumer.commit(asynchronous=False)
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        with self._lock:
            self.assigned -= revoked
            kept = [h for h in self._buffer if h.tp not in revoked]
            self._buffer = deque(kept)
        self._tracker.forget(revoked)

    def _close(self, consumer: Any) -> None:
        """No new takes; wait for hand-outs in progress; commit what was handed out; leave."""
        with self._lock:
            self.closed = True
            self._buffer.clear()  # never committed: the group reads them again
        deadline = time.monotonic() + HAND_OUT_DRAIN_S
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_hand <= 0:
                    break
            time.sleep(0.01)
        self._store_finished(consumer)
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("task bridge: final commit of %s failed: %s", self.topic, exc)
        consumer.close()
        log.info("task bridge: unsubscribed from %s", self.topic)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "-"
