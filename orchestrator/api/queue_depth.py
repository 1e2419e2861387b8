"""Queue depth per task type for /metrics: the default queues' pending counts (queue_lags.py).

A queue's depth is, summed over the partitions of ``<prefix>.tasks.<type>``, the end offset
minus the offset committed by the queue's worker group (the start offset when the group has
committed nothing) — the same measure as GET /api/tasks/queue/sizes and the Queues page, and
measured by the same code, cached, so scrapes from several Prometheus servers cost one Kafka
round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.api.queue_lags import QueueLags

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka


class QueueDepths:
    def __init__(self, kafka: Kafka, prefix: str) -> None:
        self._lags = QueueLags(kafka, prefix)

    def get(self, task_types: list[str]) -> dict[str, int]:
        """Blocking (run it in a thread): ``{task type: depth}`` of the default queues."""
        lags = self._lags.get((t, None) for t in task_types)
        return {t: lags.get((t, None), 0) for t in task_types}
