"""Follow a small topic from its beginning, forever: the pattern behind every in-memory view.

The processors' definitions registry and the poller presence view are folds of a compacted
topic: read every partition from the first record in a daemon thread, hand each record to
``apply(key, value)`` in order, and keep following. ``wait_caught_up`` blocks until every
partition has been read up to its end *as of the call*, which is how a reader makes sure it has
seen everything written before a given moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from orchestrator.kafka.clients import IDLE_READER_FETCH_WAIT_MS, new_reader, take
from orchestrator.kafka.transient import QuietLog

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

Apply = Callable[[bytes | None, bytes | None], None]
OnError = Callable[[Any, str], None]  # (the record, why): e.g. a dead_letters.DeadLetterSink


class TopicFollower:
    def __init__(
        self,
        kafka: Kafka,
        topic: str,
        apply: Apply,
        *,
        name: str,
        on_error: OnError | None = None,
    ) -> None:
        """``apply`` raising for a record: ``on_error(record, reason)`` (or a log line), and the
        follower goes on with the next record."""
        self.topic = topic
        self._apply = apply
        self._on_error = on_error
        self._name = name
        self._consumer = new_reader(
            kafka,
            **{
                "group.id": f"unused-{name}-follower",  # we assign, never commit
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": IDLE_READER_FETCH_WAIT_MS,
            },
        )
        # Watermark look-ups get their own client: calls on the consumer that the follower
        # thread is blocked in consume() on can hang.
        self._meta = new_reader(kafka, **{"group.id": f"unused-{name}-meta"})
        self._meta_lock = threading.Lock()
        self._stop = threading.Event()
        self._positions: dict[int, int] = {}
        self._pos_lock = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._quiet = QuietLog(log)

    def start(self, timeout_s: float = 30.0) -> bool:
        """Assign every partition from its beginning, start following; True once caught up."""
        with self._meta_lock:
            meta = self._meta.list_topics(self.topic, timeout=timeout_s)
        partitions = sorted(meta.topics[self.topic].partitions)
        self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self._thread.start()
        return self.wait_caught_up(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._consumer.close()
        self._meta.close()

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Block until every partition has been read up to its end as of now."""
        deadline = time.monotonic() + timeout_s
        targets = self._ends(timeout_s)
        with self._pos_lock:
            while any(self._positions.get(p, 0) < high for p, high in targets.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pos_lock.wait(left)
        return True

    def _ends(self, timeout_s: float) -> dict[int, int]:
        """Each partition's end now; retried while a topic just created has no leader yet."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with self._meta_lock:
                    meta = self._meta.list_topics(self.topic, timeout=timeout_s)
                    return {
                        p: self._meta.get_watermark_offsets(
                            TopicPartition(self.topic, p), timeout=timeout_s, cached=False
                        )[1]
                        for p in meta.topics[self.topic].partitions
                    }
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in take(self._consumer, 500, 0.2):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        self._advance(msg.partition(), msg.offset())
                    else:
                        self._quiet.warning(f"{err.code()}", "%s topic: %s", self._name, err)
                    continue
                self._quiet.clear_all("", "%s topic: reading again", self._name)
                try:
                    self._apply(msg.key(), msg.value())
                except Exception as exc:  # a bad record must not stop the follower
                    reason = f"{type(exc).__name__}: {exc}"
                    if self._on_error is None:
                        log.error("%s topic: skipping a record: %s", self._name, reason)
                    else:
                        self._on_error(msg, reason)
                self._advance(msg.partition(), msg.offset() + 1)

    def _advance(self, partition: int, offset: int) -> None:
        with self._pos_lock:
            if offset > self._positions.get(partition, 0):
                self._positions[partition] = offset
            self._pos_lock.notify_all()
