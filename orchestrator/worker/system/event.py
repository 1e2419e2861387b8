"""The EVENT system task: publish the task input to a sink.

The engine puts the task's ``sink`` into its input (as Conductor's EventTaskMapper does).
``kafka:<topic>`` publishes, to our cluster, the input plus ``workflowInstanceId``,
``workflowType``, ``workflowVersion`` and ``correlationId`` as JSON (key = the task id); the
output is that payload plus ``event_produced`` (Conductor's Event task). ``conductor`` and
``conductor:<queue>`` sinks feed Conductor's event handlers, which do not exist here yet: they
fail with a terminal error saying so, as does any other sink.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.publish import Publisher, PublishError
from orchestrator.worker.task import Outcome, TaskContext, failed


class EventExecutor:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def __call__(self, task: TaskContext) -> Outcome:
        sink = task.input.get("sink")
        if not sink or not isinstance(sink, str):
            return failed("No sink specified in task")
        kind, _, target = sink.partition(":")
        if kind == "conductor":
            return failed(
                f"sink {sink!r} is not supported: Conductor event queues and event handlers "
                "are not implemented yet; publish to Kafka with sink 'kafka:<topic>'",
                terminal=True,
            )
        if kind != "kafka" or not target:
            return failed(f"Invalid / Unsupported sink specified: {sink}", terminal=True)
        payload = self.payload(task)
        try:
            self.publisher.publish(
                target,
                json.dumps(payload, separators=(",", ":")).encode("utf-8"),
                key=task.task_id.encode("utf-8"),
            )
        except PublishError as exc:
            return failed(
                f"Error when trying to access the specified queue/topic: {sink}, error: {exc}",
                output={"event_produced": sink},
            )
        return Outcome(TaskStatus.COMPLETED, {**payload, "event_produced": sink})

    @staticmethod
    def payload(task: TaskContext) -> dict[str, Any]:
        d = task.dispatch
        return {
            **task.input,
            "workflowInstanceId": d.workflow_instance_id,
            "workflowType": d.workflow_type,
            "workflowVersion": d.workflow_version,
            "correlationId": d.correlation_id,
        }
