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
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from orchestrator.engine.statecodec import TableEntry, decode_entry

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 120.0
POLL_BATCH = 5000


class ChangelogReadError(RuntimeError):
    """The changelog could not be read to its end: deciding on a partial state is not safe."""


def read_changelog(
    bootstrap: str,
    topic: str,
    partitions: Iterable[int],
    timeout_s: float = READ_TIMEOUT_S,
    blobs: dict[str, bytes] | None = None,
) -> dict[str, TableEntry]:
    """Every execution of `partitions`, newest seq per workflow id, as of the current end.

    `blobs`, if given, receives the record each returned entry was decoded from (so that the
    processor can keep finished executions as bytes without encoding them again)."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # No group: assign() + no commits. The id only names the client in broker logs.
            "group.id": f"changelog-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
        }
    )
    try:
        ends = _high_watermarks(consumer, topic, wanted)
        todo = {p for p, high in ends.items() if high > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(todo)])
        newest = _read_until(consumer, ends, todo, time.monotonic() + timeout_s)
    finally:
        consumer.close()
    if blobs is not None:
        blobs.update((wid, blob) for wid, (_, blob) in newest.items())
    return {wid: entry for wid, (entry, _) in newest.items()}


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
) -> dict[str, tuple[TableEntry, bytes]]:
    newest: dict[str, tuple[TableEntry, bytes]] = {}
    records = 0
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
            records += 1
            value = msg.value()
            if value is None:
                continue  # a tombstone: not written by the processors today
            entry = decode_entry(value)
            wid = msg.key().decode()
            held = newest.get(wid)
            if held is None or entry.state.seq >= held[0].state.seq:
                newest[wid] = (entry, value)
    log.debug("changelog: %d records, %d executions", records, len(newest))
    return newest
