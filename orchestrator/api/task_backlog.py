"""Queue sizes for GET /api/tasks/queue/sizes: the consumer lag of the worker groups.

A queue's size is, summed over its task topic's partitions, the end offset minus the offset
committed by the queue's worker group (``<prefix>-worker-<type>``; the low watermark when the
group has committed nothing, since it would start there). It counts tasks not yet taken and,
as Kafka sees them, tasks taken but whose offset is not committed yet (a Kafka SDK worker
commits after the result is delivered, the HTTP bridge at hand-off; auto-commit runs every
second), so it can be a little high while tasks are being worked on.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from orchestrator.api.task_subscription import worker_group
from orchestrator.kafka.clients import consumer_config
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings

TIMEOUT_S = 10.0


def queue_size(settings: Settings, task_type: str, domain: str | None = None) -> int:
    """Blocking: the backlog of one queue (0 when its topic does not exist yet)."""
    topic = TopicNames.from_settings(settings).task(task_type, domain)
    group = worker_group(settings.topic_prefix, task_type, domain)
    # A consumer that never subscribes does not join the group; it only reads its offsets.
    consumer = Consumer(
        consumer_config(
            settings,
            group,
            client_id="orchestrator-api:queue-sizes",
            extra={"enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return 0
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        committed = consumer.committed(partitions, timeout=TIMEOUT_S)
        size = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, tp.partition), timeout=TIMEOUT_S
            )
            start = tp.offset if tp.offset >= 0 else low
            size += max(0, high - start)
        return size
    finally:
        consumer.close()


def queue_sizes(settings: Settings, task_types: list[str]) -> dict[str, int]:
    """Blocking: ``{task type: size}`` (queues without a domain), as Conductor answers."""
    return {task_type: queue_size(settings, task_type) for task_type in task_types}
