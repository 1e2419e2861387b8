"""Projection lag in milliseconds: the age of the oldest event the projector has not applied.

The projector stores its next offset per partition in ``projector_offsets`` (Postgres); the
observer knows the Kafka timestamp of every event offset, so lag = now - timestamp of the first
unapplied event, taken over the partitions (0 when it has applied all the observer has seen).
"""

from __future__ import annotations

import bisect
import time
from typing import Any

import psycopg

from orchestrator.bench.observe import EventObserver
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings
from projections.projector import consumer_name

_QUERY = "SELECT partition, next_offset FROM projector_offsets WHERE consumer = %s AND topic = %s"


class ProjectionLag:
    def __init__(self, settings: Settings, observer: EventObserver) -> None:
        self.observer = observer
        self.consumer = consumer_name(settings)
        self.topic = TopicNames.from_settings(settings).events
        self.conn: Any = psycopg.connect(settings.database_url, autocommit=True)

    def lag_ms(self) -> float | None:
        rows = self.conn.execute(_QUERY, (self.consumer, self.topic)).fetchall()
        if not rows:
            return None
        now = time.time() * 1000
        worst = 0.0
        with self.observer.lock:
            for partition, next_offset in rows:
                seen = self.observer.obs.offsets.get(partition, [])
                i = bisect.bisect_left(seen, (next_offset, -1))
                if i < len(seen):  # the observer has an event the projector has not applied
                    worst = max(worst, now - seen[i][1])
        return worst
