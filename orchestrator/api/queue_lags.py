"""Every task queue and its pending count, domain queues included, for the Queues page.

A queue is a task topic: ``<prefix>.tasks.<type>`` (the default queue) or
``<prefix>.tasks.<domain>.<type>`` (a task domain's queue), consumed by the worker group
``<prefix>-worker-<type>`` / ``<prefix>-worker-<domain>.<type>``. Its pending count is the same
measure as /api/tasks/queue/sizes (and ``QueueDepths`` of /metrics uses this): summed over the topic's partitions,
the end offset minus the group's committed offset (the start offset when it committed nothing).
Topics are found by listing Kafka's topics under the prefix; a topic name is mapped back to its
(type, domain) through the names we know (they may have been sanitised, see ``topic_segment``),
else by splitting it at its one ``.``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from orchestrator.api.task_subscription import worker_group
from orchestrator.kafka.admin import admin_client
from orchestrator.kafka.topics import TopicNames

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

CACHE_S = 5.0
TIMEOUT_S = 5.0

Queue = tuple[str, str | None]  # (task type, domain); domain None: the default queue


def parse_task_topic(topic: str, topics: TopicNames, known: dict[str, Queue]) -> Queue | None:
    """The queue of a task topic, or None for a topic that is not one."""
    if topic in known:
        return known[topic]
    if not topic.startswith(topics.tasks_prefix):
        return None
    parts = topic.removeprefix(topics.tasks_prefix).split(".")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 2 and all(parts):
        return parts[1], parts[0]
    return None


class QueueLags:
    """Blocking (run it in a thread); one Kafka round per CACHE_S for the same question."""

    def __init__(self, kafka: Kafka, prefix: str) -> None:
        self._kafka = kafka
        self._prefix = prefix
        self._topics = TopicNames(prefix)
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()
        self._cached: tuple[float, frozenset[Queue], dict[Queue, int]] | None = None

    def get(self, candidates: Iterable[Queue]) -> dict[Queue, int]:
        """Pending count of every queue found on Kafka, plus the ``candidates`` we know of
        (``(type, domain)`` pairs: used to map sanitised topic names back)."""
        wanted = frozenset(candidates)
        with self._lock:
            cached = self._cached
            if cached and cached[1] == wanted and time.monotonic() - cached[0] < CACHE_S:
                return cached[2]
            lags = self._measure(wanted)
            self._cached = (time.monotonic(), wanted, lags)
            return lags

    def _measure(self, candidates: frozenset[Queue]) -> dict[Queue, int]:
        if self._admin is None:
            self._admin = admin_client(self._kafka, TIMEOUT_S)
        admin = self._admin
        known = {self._topics.task(t, d): (t, d) for t, d in candidates}
        partitions: dict[Queue, list[TopicPartition]] = {}
        for topic, meta in admin.list_topics(timeout=TIMEOUT_S).topics.items():
            queue = parse_task_topic(topic, self._topics, known)
            if queue is not None and meta.error is None:
                partitions[queue] = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        lags = dict.fromkeys(candidates, 0)
        every = [tp for tps in partitions.values() for tp in tps]
        if not every:
            return lags
        ends = _offsets(admin, every, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = _offsets(admin, every, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        committed = self._committed(admin, partitions)
        for queue, tps in partitions.items():
            lags[queue] = 0
            for tp in tps:
                key = (tp.topic, tp.partition)
                done = committed.get(key, -1)
                start = done if done >= 0 else starts.get(key, 0)
                lags[queue] += max(0, ends.get(key, 0) - start)
        return lags

    def _committed(
        self, admin: AdminClient, partitions: dict[Queue, list[TopicPartition]]
    ) -> dict[tuple[str, int], int]:
        futures: list[Future[Any]] = []
        for (task_type, domain), tps in partitions.items():
            group = worker_group(self._prefix, task_type, domain)
            request = ConsumerGroupTopicPartitions(group, tps)
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
