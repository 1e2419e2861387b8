"""The rebuild's reader: the events and definitions topics from their beginning, group-less.

Unlike the projector, it never joins the projector's consumer group (that would take partitions
away from the live projector): it assigns every partition itself, starting at the beginning, and
never commits anything to Kafka. It turns records into the same ``Batch`` the projector applies,
so a rebuilt read model is produced by the very same apply/handlers code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from orchestrator.codec.wire import Wire
from orchestrator.kafka.clients import client_config
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings
from projections.apply import Batch, LoggedEvent, Position
from projections.decoding import Undecodable, decode_message, position

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0

Where = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class ReadResult:
    batch: Batch
    undecodable: int  # records skipped (the live projector already dead-lettered them)


class LogReader:
    """Reads both topics in order; ``next[where]`` is the next offset still to be read."""

    def __init__(self, settings: Settings, topics: TopicNames, wire: Wire) -> None:
        self.topics = topics
        self.wire = wire
        config = client_config(
            settings,
            **{
                # Required by the client; never used: no subscribe(), no commit().
                "group.id": f"{settings.topic_prefix}-projector-rebuild",
                "enable.auto.commit": False,
                "enable.partition.eof": True,  # tells us a partition's end was reached
                "auto.offset.reset": "earliest",
            },
        )
        self.consumer = Consumer(config)
        # Log end offsets are asked on a client of their own: on the fetching one, each query
        # queues behind the pending fetch (up to fetch.wait.max.ms, 500 ms, per partition),
        # time the writers would spend waiting on the switch.
        self._offsets = Consumer(config)
        self.next: dict[Where, int] = {}
        assigned = []
        for where in self._partitions([topics.events, topics.definitions]):
            low, _ = self._offsets.get_watermark_offsets(TopicPartition(*where), TIMEOUT_S)
            self.next[where] = max(0, low)  # a retention-trimmed log starts above 0
            assigned.append(TopicPartition(*where, OFFSET_BEGINNING))
        self.consumer.assign(assigned)

    def close(self) -> None:
        self.consumer.close()
        self._offsets.close()

    def _partitions(self, topics: list[str]) -> list[Where]:
        found: list[Where] = []
        for topic in topics:
            meta = self.consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                raise RuntimeError(f"topic {topic} does not exist (or has no partitions)")
            found.extend((topic, p) for p in sorted(meta.partitions))
        return found

    def end_offsets(self) -> dict[Where, int]:
        """The live log end offset of every partition, asked from the broker now."""
        ends = {}
        for where in self.next:
            _, high = self._offsets.get_watermark_offsets(TopicPartition(*where), TIMEOUT_S)
            ends[where] = high
        return ends

    def behind(self, targets: dict[Where, int]) -> int:
        """Records between where we are and ``targets``."""
        return sum(max(0, end - self.next[where]) for where, end in targets.items())

    def read(self, max_records: int, timeout_s: float) -> ReadResult:
        """One ``consume`` call, decoded; positions say how far each partition got."""
        batch = Batch()
        undecodable = 0
        ends: dict[Where, int] = {}
        latest: dict[Where, int] = {}
        # poll wakes on the first record (consume(N, T) would wait T for N records, even while
        # writers wait on the switch); then whatever is already buffered, without waiting.
        first = self.consumer.poll(timeout_s)
        rest = self.consumer.consume(max_records - 1, 0) if first is not None else []
        for message in [first, *rest] if first is not None else []:
            if self._end_or_error(message):
                continue
            topic, partition, offset = position(message)
            where = (topic, partition)
            ends[where] = offset + 1
            try:
                decoded = decode_message(self.wire, self.topics, message)
            except Undecodable as exc:
                log.warning("rebuild: skipping undecodable %s[%s]@%s: %s", *where, offset, exc)
                undecodable += 1
                continue
            if isinstance(decoded, LoggedEvent):
                batch.events.append(decoded)
                latest[where] = max(latest.get(where, 0), decoded.event.at)
            elif decoded is not None:
                batch.definitions.append(decoded)
        for where, end in ends.items():
            self.next[where] = max(self.next[where], end)
        batch.positions = [
            Position(*where, end, self._cached_high(where), latest.get(where))
            for where, end in ends.items()
        ]
        return ReadResult(batch, undecodable)

    def _end_or_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() == KafkaError._PARTITION_EOF:
            # The offset of an EOF event is the end offset: a partition whose tail records
            # were compacted away (definitions) or that is empty is "read" up to there.
            topic, partition, end = message.topic(), message.partition(), message.offset()
            if topic is not None and partition is not None and end is not None:
                where = (topic, partition)
                self.next[where] = max(self.next.get(where, 0), end)
        else:
            log.warning("rebuild: consumer error: %s", error)
        return True

    def _cached_high(self, where: Where) -> int | None:
        _, high = self.consumer.get_watermark_offsets(TopicPartition(*where), cached=True)
        return high if high is not None and high >= 0 else None
