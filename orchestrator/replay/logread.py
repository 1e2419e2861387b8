"""Read a topic from the beginning up to where it ended when the reading started.

The end is each partition's high watermark taken at the start, so a reader of a busy topic
stops by itself: it never waits for records written after it began. No consumer group is
joined (partitions are assigned directly) and no offset is committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from orchestrator.kafka.clients import new_reader

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

BATCH = 1000
POLL_S = 0.2
METADATA_TIMEOUT_S = 10.0


class LogUnavailable(RuntimeError):
    """The topic cannot be read (no broker, no such topic)."""


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class LogReader:
    """``records()`` yields every record of ``topic`` below the start-time end offsets."""

    def __init__(self, kafka: Kafka, topic: str, partitions: Iterable[int] | None = None) -> None:
        self.topic = topic
        self._consumer = new_reader(
            kafka,
            **{
                # Required by the client even when no group is joined; never committed.
                "group.id": f"replay-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.max.bytes": 64 * 1024 * 1024,
                # Everything wanted is already there: never let the broker hold a fetch back.
                "fetch.wait.max.ms": 10,
            },
        )
        try:
            chosen = self._partitions() if partitions is None else sorted(set(partitions))
            self.ends = {p: self._end(p) for p in chosen}
        except KafkaException as exc:
            self._consumer.close()
            raise LogUnavailable(f"cannot read {topic}: {exc}") from None
        self.read = 0

    def _partitions(self) -> list[int]:
        meta = self._consumer.list_topics(self.topic, timeout=METADATA_TIMEOUT_S)
        found = meta.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            self._consumer.close()
            reason = found.error if found is not None and found.error else "no such topic"
            raise LogUnavailable(f"cannot read {self.topic}: {reason}")
        return sorted(found.partitions)

    def _end(self, partition: int) -> int:
        _, high = self._consumer.get_watermark_offsets(
            TopicPartition(self.topic, partition), timeout=METADATA_TIMEOUT_S, cached=False
        )
        return int(high)

    @property
    def total(self) -> int:
        """Records to read at most (the end offsets; fewer if retention deleted the oldest)."""
        return sum(self.ends.values())

    def records(self) -> Iterator[Record]:
        open_parts = {p for p, end in self.ends.items() if end > 0}
        if not open_parts:
            return
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(open_parts)]
        )
        while open_parts:
            messages = self._consumer.consume(BATCH, POLL_S)
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("replay: consumer error: %s", error)
                    continue
                partition, offset = msg.partition(), msg.offset()
                if partition is None or offset is None:
                    continue  # never for a consumed record; the client's types allow it
                if partition not in open_parts or offset >= self.ends[partition]:
                    continue
                self.read += 1
                yield Record(partition, offset, msg.key(), msg.value())
                if offset + 1 >= self.ends[partition]:
                    self._finish(partition, open_parts)
            if not messages:
                self._finish_by_position(open_parts)

    def _finish(self, partition: int, open_parts: set[int]) -> None:
        open_parts.discard(partition)
        self._consumer.pause([TopicPartition(self.topic, partition)])

    def _finish_by_position(self, open_parts: set[int]) -> None:
        """Nothing came: a partition whose position passed its end (the last offsets were
        transaction markers, or were deleted by retention) is done."""
        positions = self._consumer.position([TopicPartition(self.topic, p) for p in open_parts])
        for tp in positions:
            if tp.offset >= 0 and tp.offset >= self.ends[tp.partition]:
                self._finish(tp.partition, open_parts)

    def close(self) -> None:
        self._consumer.close()
