"""Reads of the read model (async psycopg), for the API. Rows come back as dicts.

Searching (Conductor's query grammar) and history come later; the indexes they need are in
migrations/0001_read_model.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from projections.apply import DefinitionChange, adapt, definition_op
from projections.statements import SQL

Row = dict[str, Any]


async def workflow(conn: AsyncConnection, workflow_id: str) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM workflows WHERE workflow_id = %s", (workflow_id,))
    return await cur.fetchone()


async def workflow_progress(conn: AsyncConnection, workflow_id: str) -> tuple[str, int] | None:
    """(status, last_seq) of a workflow: what read-your-writes waits on."""
    cur = await conn.execute(
        "SELECT status, last_seq FROM workflows WHERE workflow_id = %s", (workflow_id,)
    )
    row = await cur.fetchone()
    return None if row is None else (row[0], int(row[1]))


async def current_tasks(conn: AsyncConnection, workflow_id: str) -> list[Row]:
    """The tasks of the workflow's current view (not retired by a restart/rerun), in seq order."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT * FROM tasks WHERE workflow_id = %s AND NOT retired ORDER BY seq", (workflow_id,)
    )
    return await cur.fetchall()


async def ended_tasks(conn: AsyncConnection, task_ids: list[str]) -> set[str]:
    """Which of `task_ids` the read model holds as ended (any terminal status)."""
    cur = await conn.execute(
        "SELECT task_id FROM tasks WHERE task_id = ANY(%s)"
        " AND status NOT IN ('SCHEDULED', 'IN_PROGRESS')",
        (task_ids,),
    )
    return {str(row[0]) for row in await cur.fetchall()}


async def definition(
    conn: AsyncConnection, kind: str, name: str, version: int | None = None
) -> Row | None:
    """One definition; the latest version when ``version`` is None."""
    cur = conn.cursor(row_factory=dict_row)
    if version is None:
        await cur.execute(
            "SELECT * FROM definitions WHERE kind = %s AND name = %s ORDER BY version DESC LIMIT 1",
            (kind, name),
        )
    else:
        await cur.execute(
            "SELECT * FROM definitions WHERE kind = %s AND name = %s AND version = %s",
            (kind, name, version),
        )
    return await cur.fetchone()


async def definitions(conn: AsyncConnection, kind: str) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT * FROM definitions WHERE kind = %s ORDER BY name, version", (kind,))
    return await cur.fetchall()


async def save_definition(conn: AsyncConnection, change: DefinitionChange) -> None:
    """The same idempotent upsert the projector runs for the definitions topic record."""
    op = definition_op(change)
    await conn.execute(SQL[op.statement], {k: adapt(v) for k, v in op.params.items()})


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    next_offset: int
    high_watermark: int | None
    last_event_at: int | None
    seconds_since_update: float

    @property
    def records_behind(self) -> int:
        if self.high_watermark is None:
            return 0
        return max(0, self.high_watermark - self.next_offset)


async def projection_lag(conn: AsyncConnection, consumer: str) -> list[PartitionLag]:
    """Per partition: how far the projector is behind the log end it last saw, and how long ago
    it last committed (a stopped projector shows a growing age, not a growing lag)."""
    cur = await conn.execute(
        "SELECT topic, partition, next_offset, high_watermark, last_event_at, "
        "extract(epoch FROM now() - updated_at) FROM projector_offsets WHERE consumer = %s "
        "ORDER BY topic, partition",
        (consumer,),
    )
    return [
        PartitionLag(t, int(p), int(n), None if h is None else int(h), a, float(age))
        for t, p, n, h, a, age in await cur.fetchall()
    ]
