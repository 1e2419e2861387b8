"""Turn outcomes into ReportTaskResult commands on the commands topic (key = the ROOT id)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.codec import wire
from orchestrator.domain.commands import ReportTaskResult, TaskStarted
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.worker.results import encode_result
from orchestrator.worker.task import Outcome

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[Any, Any], None]  # (KafkaError | None, Message)


def now_ms() -> int:
    return int(time.time() * 1000)


class Reporter:
    """Produces task results. Thread-safe (confluent-kafka's Producer is)."""

    def __init__(
        self,
        producer: Any,
        commands_topic: str,
        worker_id: str,
        clock: Callable[[], int] = now_ms,
        policy: PayloadPolicy | None = None,
    ) -> None:
        self.producer = producer
        self.topic = commands_topic
        self.worker_id = worker_id
        self.actor = f"worker:{worker_id}"
        self.clock = clock
        self.policy = policy  # the payload limits; None: no hard maximum checked here

    def command(
        self, dispatch: DispatchTask, outcome: Outcome, started_at: int | None = None
    ) -> ReportTaskResult:
        return ReportTaskResult(
            workflow_id=dispatch.workflow_instance_id,
            root_workflow_id=dispatch.root_workflow_id,
            at=self.clock(),
            actor=self.actor,
            task_id=dispatch.task_id,
            status=outcome.status,
            output=outcome.output,
            reason=outcome.reason,
            logs=outcome.logs,
            callback_after_seconds=outcome.callback_after_seconds,
            worker_id=self.worker_id,
            started_at=started_at,
            extend_lease=outcome.extend_lease,
        )

    def report(
        self,
        dispatch: DispatchTask,
        outcome: Outcome,
        on_delivery: DeliveryCallback | None = None,
        started_at: int | None = None,
    ) -> None:
        """``started_at``: when the task was taken, if it was never acknowledged (acks.py).
        Whatever the function returned, the task must end: results.py says how."""
        value = encode_result(
            lambda o: self.command(dispatch, o, started_at), outcome, self.policy, dispatch.task_id
        )
        root = dispatch.root_workflow_id or dispatch.workflow_instance_id
        self._produce(root.encode("utf-8"), value, on_delivery)

    def started(self, dispatch: DispatchTask) -> None:
        """The acknowledgement (Conductor's poll): SCHEDULED -> IN_PROGRESS in the engine."""
        command = TaskStarted(
            workflow_id=dispatch.workflow_instance_id,
            root_workflow_id=dispatch.root_workflow_id,
            at=self.clock(),
            actor=self.actor,
            task_id=dispatch.task_id,
            worker_id=self.worker_id,
        )
        self._produce(command.root.encode("utf-8"), wire.encode_command(command), None)

    def heartbeat(
        self,
        dispatch: DispatchTask,
        callback_after_seconds: int,
        output: dict[str, Any] | None,
        logs: Sequence[str],
        started_at: int | None = None,
    ) -> None:
        outcome = Outcome(
            TaskStatus.IN_PROGRESS,
            output or {},
            logs=tuple(logs),
            callback_after_seconds=callback_after_seconds,
            extend_lease=callback_after_seconds <= 0,  # still working: keep it (extendLease)
        )
        self.report(dispatch, outcome, started_at=started_at)

    def _produce(self, key: bytes, value: bytes, on_delivery: DeliveryCallback | None) -> None:
        while True:
            try:
                self.producer.produce(self.topic, value=value, key=key, on_delivery=on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain, then retry
                self.producer.poll(0.1)
