"""Read the processors' state changelog directly, up to its end, at every (re)assignment.

faust recovers its table from the changelog too, but its recovery can come up short: on a
partition that moved to another processor and came back (A -> B -> A), faust decides from its
own bookkeeping whether and from where to read, and a takeover test caught a survivor that
decided on a state older than the one the killed processor had written and committed (issue 4;
the same class of bug as faust's "recovery drops changelog records" reports). So the processor
reads the changelog partitions it was just given itself, with a plain consumer, from the first
record to the high watermark fetched *now*, and keeps per execution the entry with the highest
seq (a late write of a zombie can never roll a state back). Everything acknowledged before the
rebalance is below that watermark: a processor awaits its changelog deliveries before it
acknowledges a batch (ADR 0003).

A tombstone means the execution left the changelog (finished, past its retention: it is in the
state store now). A value that is not a state record of this version is reported, not fatal:
the processor dead-letters it and serves the partition's other executions.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from orchestrator.engine.statecodec import RecordHead, StateRecordError, read_head
from orchestrator.kafka.clients import new_reader

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 120.0
POLL_BATCH = 5000


class ChangelogReadError(RuntimeError):
    """The changelog could not be read to its end: deciding on a partial state is not safe."""


@dataclass(frozen=True, slots=True)
class Found:
    """The newest record of one execution: its head, and its value (None if the newest record
    is a tombstone: the execution left the changelog for the state store)."""

    partition: int
    head: RecordHead | None
    value: bytes | None


@dataclass(slots=True)
class ChangelogRead:
    executions: dict[str, Found] = field(default_factory=dict)
    records: int = 0
    bytes: int = 0
    # (partition, offset, key, reason) of values that are no state record of this version
    unreadable: list[tuple[int, int, bytes | None, str]] = field(default_factory=list)


def read_changelog(
    kafka: Kafka,
    topic: str,
    partitions: Iterable[int],
    timeout_s: float = READ_TIMEOUT_S,
) -> ChangelogRead:
    """The newest record of every execution of `partitions`, as of the current end.

    Only the records' heads are read (statecodec.py): nothing is unpickled here, so reading a
    partition costs what its records weigh, and superseded records cost no decoding."""
    wanted = sorted(set(partitions))
    if not wanted:
        return ChangelogRead()
    consumer = new_reader(
        kafka,
        **{
            # No group: assign() + no commits. The id only names the client in broker logs.
            "group.id": f"changelog-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
        },
    )
    try:
        ends = _high_watermarks(consumer, topic, wanted)
        todo = {p for p, high in ends.items() if high > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(todo)])
        read = _read_until(consumer, ends, todo, time.monotonic() + timeout_s)
    finally:
        consumer.close()
    return read


def _high_watermarks(consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for p in partitions:
        ends[p] = _high_watermark(consumer, TopicPartition(topic, p))
    return ends


def _high_watermark(consumer: Consumer, tp: TopicPartition, attempts: int = 10) -> int:
    """A partition's end; retried while its leader is not known yet (a topic just created)."""
    for attempt in range(attempts):
        try:
            _low, high = consumer.get_watermark_offsets(tp, timeout=10)
            return int(high)
        except KafkaException as exc:
            if attempt == attempts - 1:
                where = f"{tp.topic}[{tp.partition}]"
                raise ChangelogReadError(f"no end offset for {where}: {exc}") from exc
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _read_until(
    consumer: Consumer, ends: dict[int, int], todo: set[int], deadline: float
) -> ChangelogRead:
    read = ChangelogRead()
    while todo:
        if time.monotonic() > deadline:
            raise ChangelogReadError(f"changelog not read to its end; partitions left {todo}")
        for msg in consumer.consume(POLL_BATCH, 0.2):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= ends[msg.partition()]:
                        todo.discard(msg.partition())
                    continue
                raise ChangelogReadError(f"changelog read failed: {err}")
            if msg.offset() >= ends[msg.partition()] - 1:
                todo.discard(msg.partition())
            _take(read, msg)
    log.debug("changelog: %d records, %d executions", read.records, len(read.executions))
    return read


def _take(read: ChangelogRead, msg: Any) -> None:
    read.records += 1
    key, value = msg.key(), msg.value()
    if key is None:
        read.unreadable.append((msg.partition(), msg.offset(), key, "record without a key"))
        return
    wid = key.decode("utf-8", "replace")
    held = read.executions.get(wid)
    if value is None:  # a tombstone: the execution went to the state store
        read.executions[wid] = Found(msg.partition(), None, None)
        return
    read.bytes += len(value)
    try:
        head = read_head(value)
    except StateRecordError as exc:
        read.unreadable.append((msg.partition(), msg.offset(), key, str(exc)))
        return
    # Highest seq wins (a zombie's late write never rolls a state back); a tombstone that
    # comes later wins over any record before it.
    if held is None or held.head is None or head.seq >= held.head.seq:
        read.executions[wid] = Found(msg.partition(), head, value)
