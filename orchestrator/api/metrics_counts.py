"""Counters and latency histograms derived from the ``events`` table, incrementally.

Why from the read model and not from what this process saw: several API processes serve the
same deployment and none of them sees the engine's events. The ``events`` table is the one
place every process can read the same facts from, each event exactly once (its primary key
drops duplicates). Each process keeps, per events-topic partition, the highest Kafka offset it
has counted, and on each scrape counts only the rows after it (an index range scan of
``(topic, kafka_partition, kafka_offset)``, at most CHUNK rows a partition per scrape, so the
first scrape of a new process over a long history stays short and catches up over a few).
Every process thus converges to the SAME totals: aggregate them with ``max``, not ``sum``.

The projector commits a partition's events in offset order (one transaction per batch; a batch
re-read after a crash has the same offsets), so a row below a counted offset does not appear
later; the scrape reads in one REPEATABLE READ snapshot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString
from psycopg import AsyncConnection

CHUNK = 200_000
# Bucket upper bounds (seconds) of the task latency histograms.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_BOUNDS_MS = [float(b * 1000) for b in BUCKETS_S]

WORKFLOW_EVENTS = (
    "WorkflowStarted",
    "WorkflowCompleted",
    "WorkflowFailed",
    "WorkflowTerminated",
    "WorkflowRestarted",
    "WorkflowRetried",
    "WorkflowRerun",
)

_RANGE = "e.topic = %s AND e.kafka_partition = %s AND e.kafka_offset > %s AND e.kafka_offset <= %s"
_WORKFLOW_COUNTS = f"""
    SELECT e.type, coalesce(w.workflow_type, ''), coalesce(e.data->>'status', ''), count(*)
    FROM events e LEFT JOIN workflows w ON w.workflow_id = e.workflow_id
    WHERE {_RANGE} AND e.type = ANY(%s)
    GROUP BY 1, 2, 3"""
# schedule -> pick-up ("wait") and pick-up -> end ("run") of each attempt, bucketed in SQL.
# The pick-up is a TaskPickedUp, or the started_at of a report that came without one (the SDK's
# deferred acknowledgement). width_bucket counts the bounds <= its operand; v - 0.5 makes a
# whole-ms v on a bound count in that bound's bucket (Prometheus' le is "<=").
_TASK_LATENCY = f"""
    SELECT kind, task_type, width_bucket((v - 0.5)::float8, %s::float8[]), count(*), sum(v)
    FROM (
        SELECT x.kind, t.task_type,
               x.at - CASE WHEN x.kind = 'wait' THEN t.scheduled_time ELSE t.start_time END AS v
        FROM events e JOIN tasks t ON t.task_id = e.data->>'task_id'
        CROSS JOIN LATERAL (VALUES
            ('wait', CASE WHEN e.type = 'TaskPickedUp' THEN e.at
                          ELSE (e.data->>'started_at')::bigint END),
            ('run', CASE WHEN e.type = 'TaskPickedUp' THEN NULL ELSE e.at END)
        ) AS x(kind, at)
        WHERE {_RANGE} AND e.type IN ('TaskPickedUp', 'TaskCompleted', 'TaskFailed')
    ) y
    WHERE v IS NOT NULL AND v >= 0
    GROUP BY 1, 2, 3"""


@dataclass(slots=True)
class Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))  # last: +Inf
    sum_ms: float = 0.0

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        bounds = [*map(floatToGoString, BUCKETS_S), "+Inf"]
        for bound, n in zip(bounds, self.buckets, strict=True):
            running += n
            out.append((bound, running))
        return out


@dataclass(slots=True)
class Totals:
    """What one process has counted so far."""

    cursors: dict[int, int] = field(default_factory=dict)  # partition -> last counted offset
    workflow_events: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    latency: dict[tuple[str, str], Histogram] = field(default_factory=dict)  # (kind, type)
    backlog: int = 0  # events known but not counted yet (catching up)

    async def advance(self, conn: AsyncConnection, topic: str, partitions: list[int]) -> None:
        """Count the events after the cursors; ``conn`` is in a REPEATABLE READ transaction.

        All or nothing: the counts and cursors change only once every query has succeeded, so
        a failed scrape never counts an event twice.
        """
        delta = Totals()
        backlog = 0
        for partition in partitions:
            after = self.cursors.get(partition, -1)
            cur = await conn.execute(
                "SELECT max(kafka_offset) FROM events WHERE topic = %s AND kafka_partition = %s",
                (topic, partition),
            )
            row = await cur.fetchone()
            newest = row[0] if row and row[0] is not None else -1
            upto = min(newest, after + CHUNK)
            if upto > after:
                await delta.count(conn, (topic, partition, after, upto))
                delta.cursors[partition] = upto
            backlog += max(0, newest - upto)
        self._merge(delta)
        self.backlog = backlog

    def _merge(self, delta: Totals) -> None:
        self.cursors.update(delta.cursors)
        self.workflow_events.update(delta.workflow_events)
        for key, hist in delta.latency.items():
            mine = self.latency.setdefault(key, Histogram())
            mine.buckets = [a + b for a, b in zip(mine.buckets, hist.buckets, strict=True)]
            mine.sum_ms += hist.sum_ms

    async def count(self, conn: AsyncConnection, span: tuple[str, int, int, int]) -> None:
        cur = await conn.execute(_WORKFLOW_COUNTS, (*span, list(WORKFLOW_EVENTS)))
        for event_type, workflow_type, status, n in await cur.fetchall():
            self.workflow_events[(event_type, workflow_type, status)] += n
        cur = await conn.execute(_TASK_LATENCY, (_BOUNDS_MS, *span))
        for kind, task_type, bucket, n, total in await cur.fetchall():
            hist = self.latency.setdefault((kind, task_type), Histogram())
            hist.buckets[bucket] += n
            hist.sum_ms += float(total)
