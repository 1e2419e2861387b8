"""Reads of the read model that audit needs: history rows, rows to compare, projector offsets.

Async functions serve the API (psycopg AsyncConnection from its pool); sync ones the CLI.
The SQL is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from orchestrator.replay.history import Entry, entry_from_row

Row = dict[str, Any]

_HISTORY = """
    SELECT workflow_id, root_workflow_id, seq, type, at, actor, data FROM events
    WHERE workflow_id = %(wid)s AND seq <= %(upto)s ORDER BY seq"""
_LAST_SEQ = "SELECT max(seq) FROM events WHERE workflow_id = %s"
_WORKFLOWS = "SELECT * FROM workflows WHERE workflow_id = ANY(%s)"
_TASKS = "SELECT * FROM tasks WHERE workflow_id = ANY(%s)"
_HISTORY_SIZES = """
    SELECT workflow_id, count(*), max(seq) FROM events WHERE workflow_id = ANY(%s)
    GROUP BY workflow_id"""
# Rows the log does not explain: where their first event was read (to tell "newer than the
# snapshot the verifier read" from "not in the log at all").
_ALL_WORKFLOWS = """
    SELECT w.workflow_id, e.kafka_partition, e.kafka_offset FROM workflows w
    LEFT JOIN events e ON e.workflow_id = w.workflow_id AND e.seq = 1"""
_LOCATION = """
    SELECT w.root_workflow_id, array_agg(DISTINCT e.kafka_partition)
    FROM workflows w JOIN events e ON e.workflow_id = w.workflow_id
    WHERE w.workflow_id = %s AND e.topic = %s GROUP BY w.root_workflow_id"""
_OFFSETS = """
    SELECT partition, next_offset FROM projector_offsets WHERE consumer = %s AND topic = %s"""

NO_LIMIT = 2**62


# --- API (async) ----------------------------------------------------------------------------


async def history(conn: AsyncConnection, workflow_id: str, upto: int = NO_LIMIT) -> list[Entry]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_HISTORY, {"wid": workflow_id, "upto": upto})
    return [entry_from_row(r) for r in await cur.fetchall()]


async def last_seq(conn: AsyncConnection, workflow_id: str) -> int | None:
    cur = await conn.execute(_LAST_SEQ, (workflow_id,))
    row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


# --- CLI (sync) -----------------------------------------------------------------------------


def history_sync(conn: psycopg.Connection, workflow_id: str) -> list[Entry]:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(_HISTORY, {"wid": workflow_id, "upto": NO_LIMIT})
    return [entry_from_row(r) for r in cur.fetchall()]


def rows_of(
    conn: psycopg.Connection, workflow_ids: Sequence[str]
) -> tuple[dict[str, Row], dict[str, list[Row]], dict[str, tuple[int, int]]]:
    """(workflow row, task rows, (events rows, max seq)) of each id, in three queries."""
    ids = list(workflow_ids)
    cur = conn.cursor(row_factory=dict_row)
    workflows = {r["workflow_id"]: r for r in cur.execute(_WORKFLOWS, (ids,)).fetchall()}
    tasks: dict[str, list[Row]] = {}
    for r in cur.execute(_TASKS, (ids,)).fetchall():
        tasks.setdefault(r["workflow_id"], []).append(r)
    sizes = {
        wid: (int(n), int(top)) for wid, n, top in conn.execute(_HISTORY_SIZES, (ids,)).fetchall()
    }
    return workflows, tasks, sizes


def first_event_positions(conn: psycopg.Connection) -> list[tuple[str, int | None, int | None]]:
    """(workflow id, partition, offset) of every workflow row's first event (None: no event)."""
    return [(w, p, o) for w, p, o in conn.execute(_ALL_WORKFLOWS).fetchall()]


def location(
    conn: psycopg.Connection, workflow_id: str, topic: str
) -> tuple[str, list[int]] | None:
    """(root workflow id, events partitions) of a workflow the read model knows."""
    row = conn.execute(_LOCATION, (workflow_id, topic)).fetchone()
    return None if row is None else (row[0], sorted(int(p) for p in row[1]))


def projector_offsets(conn: psycopg.Connection, consumer: str, topic: str) -> dict[int, int]:
    """{partition: next offset} the projector has committed for ``topic``."""
    return {int(p): int(o) for p, o in conn.execute(_OFFSETS, (consumer, topic)).fetchall()}
