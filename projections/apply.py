"""Apply one consumed batch to Postgres: rows, definitions and offsets in ONE transaction.

This is the projector's atomic step (ADR 0005). Within one transaction it

1. inserts every event into ``events`` (``ON CONFLICT DO NOTHING``) and learns which were new;
2. runs the row operations (handlers.py) of the new events only, in log order — so a batch
   applied twice, or an event the processor re-emitted after a crash, changes nothing;
3. upserts the definitions read from the definitions topic;
4. upserts ``projector_offsets`` (the next offset to read, per topic partition);
5. queues a NOTIFY with the affected workflow ids (delivered by Postgres at COMMIT only).

A crash anywhere before COMMIT leaves nothing behind; the projector then re-reads the batch from
the offsets stored here. Kafka's committed offsets are never used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from orchestrator.domain.events import EventBase
from projections.handlers import J, RowOp, event_row, ops_for_batch
from projections.statements import SQL

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "orchestrator_workflows"
_NOTIFY_MAX_BYTES = 7900  # Postgres refuses payloads of 8000 bytes or more

# %b: the arrays go in Postgres's binary format. In text format psycopg escapes every element
# with a regex (JSON is full of quotes): 21 % of the projector's CPU at 10 wf/s (issue #18);
# binary, 500 rows of 1 KB JSON cost 12-13 ms of client CPU instead of 240-250 ms.
_INSERT_EVENTS = """
    INSERT INTO events (workflow_id, seq, root_workflow_id, type, at, actor, data, topic,
                        kafka_partition, kafka_offset)
    SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::text[], %b::bigint[],
                         %b::text[], %b::jsonb[], %b::text[], %b::integer[], %b::bigint[])
    ON CONFLICT (workflow_id, seq) DO NOTHING
    RETURNING workflow_id, seq"""
_EVENT_COLUMNS = (
    "workflow_id",
    "seq",
    "root_workflow_id",
    "type",
    "at",
    "actor",
    "data",
    "topic",
    "kafka_partition",
    "kafka_offset",
)
_UPSERT_OFFSET = """
    INSERT INTO projector_offsets AS o (consumer, topic, partition, next_offset, high_watermark,
                                        last_event_at, updated_at)
    VALUES (%(consumer)s, %(topic)s, %(partition)s, %(next_offset)s, %(high_watermark)s,
            %(last_event_at)s, now())
    ON CONFLICT (consumer, topic, partition) DO UPDATE SET
        -- never backwards: a zombie projector finishing a stale batch must not rewind us
        next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset),
        high_watermark = COALESCE(EXCLUDED.high_watermark, o.high_watermark),
        last_event_at = GREATEST(o.last_event_at, EXCLUDED.last_event_at),
        updated_at = now()"""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A decoded event and where it was read."""

    event: EventBase
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    """A record of the definitions topic: ``body`` None deletes (a compaction tombstone)."""

    kind: str  # "workflow" | "task"
    name: str
    version: int  # 0 for task definitions
    body: dict[str, Any] | None
    registered_at: int = 0
    actor: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """How far a batch got in one partition."""

    topic: str
    partition: int
    next_offset: int
    high_watermark: int | None = None
    last_event_at: int | None = None


@dataclass(slots=True)
class Batch:
    events: list[LoggedEvent] = field(default_factory=list)
    definitions: list[DefinitionChange] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchResult:
    received: int  # events in the batch
    applied: int  # events new to the read model
    duplicates: int  # events already there (re-emitted or re-read)
    workflow_ids: frozenset[str]  # workflows whose rows changed


def dumps(value: Any) -> str:
    """JSON text for jsonb (without NUL characters, see below)."""
    text = _json_text(value)
    if "\\u0000" in text:  # rare: a NUL somewhere (or a literal backslash-u0000: harmless)
        text = _json_text(_without_nul(value))
    return text


def _json_text(value: Any) -> str:
    """orjson for speed, the stdlib for what orjson refuses (big ints)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return json.dumps(value)


# Postgres text and jsonb cannot hold U+0000. A value with one (a worker's output, a client's
# input: the log keeps it as it was) is stored with U+FFFD instead; refusing it would stop the
# projector on that event forever.
_NUL, _REPLACEMENT = "\x00", "\ufffd"


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def adapt(params: dict[str, Any] | Any) -> Any:
    if isinstance(params, J):
        return Jsonb(params.value, dumps=dumps)
    if isinstance(params, str):
        return params.replace(_NUL, _REPLACEMENT) if _NUL in params else params
    if isinstance(params, list | tuple) and any(isinstance(v, str) and _NUL in v for v in params):
        return _without_nul(params)
    return params


def apply_batch(
    conn: psycopg.Connection,
    batch: Batch,
    consumer: str,
    before_commit: Callable[[], None] | None = None,
) -> BatchResult:
    """Apply ``batch`` atomically (``conn`` must be outside a transaction)."""
    with conn.transaction():
        new_events = _insert_events(conn, batch.events)
        _run_ops(conn, ops_for_batch(e.event for e in new_events))
        _run_ops(conn, [definition_op(d) for d in batch.definitions])
        _save_positions(conn, consumer, batch.positions)
        touched = frozenset(e.event.workflow_id for e in new_events)
        notify(conn, touched)
        if before_commit is not None:
            before_commit()
    return BatchResult(
        received=len(batch.events),
        applied=len(new_events),
        duplicates=len(batch.events) - len(new_events),
        workflow_ids=touched,
    )


def _insert_events(conn: psycopg.Connection, events: Sequence[LoggedEvent]) -> list[LoggedEvent]:
    """Insert the history rows; returns the events that were new, in log order."""
    unique: dict[tuple[str, int], LoggedEvent] = {}
    for logged in events:  # a batch may hold both copies of a re-emitted event
        unique.setdefault((logged.event.workflow_id, logged.event.seq), logged)
    if not unique:
        return []
    rows = [event_row(e.event, e.topic, e.partition, e.offset) for e in unique.values()]
    columns = [[adapt(row[c]) for row in rows] for c in _EVENT_COLUMNS]
    inserted = conn.execute(_INSERT_EVENTS, columns).fetchall()
    fresh = {(workflow_id, int(seq)) for workflow_id, seq in inserted}
    return [e for key, e in unique.items() if key in fresh]


def _run_ops(conn: psycopg.Connection, ops: Iterable[RowOp]) -> None:
    """Run ops in order; consecutive ops of one statement go in one executemany."""
    with conn.cursor() as cur:
        for statement, group in groupby(ops, key=lambda op: op.statement):
            params = [{k: adapt(v) for k, v in op.params.items()} for op in group]
            cur.executemany(SQL[statement], params)


def definition_op(change: DefinitionChange) -> RowOp:
    key = {"kind": change.kind, "name": change.name, "version": change.version}
    if change.body is None:
        return RowOp("definition_delete", key)
    return RowOp(
        "definition_upsert",
        {
            **key,
            "body": J(change.body),
            "registered_at": change.registered_at,
            "actor": change.actor,
        },
    )


def _save_positions(conn: psycopg.Connection, consumer: str, positions: Sequence[Position]) -> None:
    if not positions:
        return
    with conn.cursor() as cur:
        cur.executemany(
            _UPSERT_OFFSET,
            [
                {
                    "consumer": consumer,
                    "topic": p.topic,
                    "partition": p.partition,
                    "next_offset": p.next_offset,
                    "high_watermark": p.high_watermark,
                    "last_event_at": p.last_event_at,
                }
                for p in positions
            ],
        )


def notify(conn: psycopg.Connection, workflow_ids: Iterable[str]) -> None:
    """NOTIFY the ids as JSON arrays, each payload under Postgres's size limit."""
    for payload in notify_payloads(workflow_ids):
        conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))


def notify_payloads(workflow_ids: Iterable[str]) -> list[str]:
    payloads: list[str] = []
    chunk: list[str] = []
    size = 2
    for workflow_id in sorted(workflow_ids):
        item = len(json.dumps(workflow_id).encode("utf-8")) + 1
        if chunk and size + item > _NOTIFY_MAX_BYTES:
            payloads.append(json.dumps(chunk, separators=(",", ":")))
            chunk, size = [], 2
        chunk.append(workflow_id)
        size += item
    if chunk:
        payloads.append(json.dumps(chunk, separators=(",", ":")))
    return payloads


def stored_positions(
    conn: psycopg.Connection, consumer: str, topics: Iterable[str]
) -> dict[tuple[str, int], int]:
    """{(topic, partition): next_offset} as stored by earlier batches."""
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM projector_offsets "
        "WHERE consumer = %s AND topic = ANY(%s)",
        (consumer, list(topics)),
    ).fetchall()
    return {(topic, int(partition)): int(offset) for topic, partition, offset in rows}
