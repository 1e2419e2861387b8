"""Queue depth per task type for /metrics: consumer lag of the worker groups, in one pass.

A queue's depth is, summed over the partitions of ``<prefix>.tasks.<type>``, the end offset
minus the offset committed by the queue's worker group (the start offset when the group has
committed nothing) — the same measure as GET /api/tasks/queue/sizes. Here one AdminClient asks
for every end/start offset in two requests and for the groups' offsets concurrently, and the
answer is cached for CACHE_S, so scrapes from several Prometheus servers cost one Kafka round.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from orchestrator.kafka.admin import admin_client
from orchestrator.kafka.topics import TopicNames

CACHE_S = 5.0
TIMEOUT_S = 5.0


def worker_group(prefix: str, task_type: str) -> str:
    """The group the worker SDK and the HTTP bridge use (orchestrator/worker/runner.group_id)."""
    return f"{prefix}-worker-{task_type}"


class QueueDepths:
    def __init__(self, bootstrap: str, prefix: str) -> None:
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._topics = TopicNames(prefix)
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()
        self._cached: tuple[float, tuple[str, ...], dict[str, int]] | None = None

    def get(self, task_types: list[str]) -> dict[str, int]:
        """Blocking (run it in a thread): ``{task type: depth}``; cached for CACHE_S."""
        wanted = tuple(sorted(set(task_types)))
        with self._lock:
            cached = self._cached
            if cached and cached[1] == wanted and time.monotonic() - cached[0] < CACHE_S:
                return cached[2]
            depths = self._measure(list(wanted))
            self._cached = (time.monotonic(), wanted, depths)
            return depths

    def _measure(self, task_types: list[str]) -> dict[str, int]:
        if self._admin is None:
            self._admin = admin_client(self._bootstrap, TIMEOUT_S)
        admin = self._admin
        metadata = admin.list_topics(timeout=TIMEOUT_S).topics
        partitions: dict[str, list[TopicPartition]] = {}
        for task_type in task_types:
            topic = self._topics.task(task_type)
            found = metadata.get(topic)
            if found is not None and found.error is None:
                partitions[task_type] = [TopicPartition(topic, p) for p in sorted(found.partitions)]
        every = [tp for tps in partitions.values() for tp in tps]
        if not every:
            return dict.fromkeys(task_types, 0)
        ends = _offsets(admin, every, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = _offsets(admin, every, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        committed = self._committed(admin, partitions)
        depths = dict.fromkeys(task_types, 0)
        for task_type, tps in partitions.items():
            for tp in tps:
                key = (tp.topic, tp.partition)
                done = committed.get(key, -1)
                start = done if done >= 0 else starts.get(key, 0)
                depths[task_type] += max(0, ends.get(key, 0) - start)
        return depths

    def _committed(
        self, admin: AdminClient, partitions: dict[str, list[TopicPartition]]
    ) -> dict[tuple[str, int], int]:
        futures: list[Future[Any]] = []
        for task_type, tps in partitions.items():
            request = ConsumerGroupTopicPartitions(worker_group(self._prefix, task_type), tps)
            futures.extend(
                admin.list_consumer_group_offsets([request], request_timeout=TIMEOUT_S).values()
            )
        found: dict[tuple[str, int], int] = {}
        for future in futures:
            for tp in future.result(timeout=TIMEOUT_S).topic_partitions or ():
                if tp.error is None:
                    found[(tp.topic, tp.partition)] = tp.offset
        return found


def _offsets(
    admin: AdminClient, tps: list[TopicPartition], spec: OffsetSpec
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in tps}, request_timeout=TIMEOUT_S)
    return {
        (tp.topic, tp.partition): f.result(timeout=TIMEOUT_S).offset for tp, f in futures.items()
    }
