"""The EVENT system task: publish the task input to a sink (Conductor's Event task).

The engine puts the task's ``sink`` and ``asyncComplete`` into its input (as Conductor's
EventTaskMapper does). The message is the input plus ``workflowInstanceId``, ``workflowType``,
``workflowVersion`` and ``correlationId`` and ``event_produced`` (the queue it goes to), as JSON:
the task's output, which Conductor publishes as the message. Sinks:

- ``kafka:<topic>``: a record on that topic of our cluster, key = the task id;
- ``conductor`` or ``conductor:<queue>``: Conductor's internal queue named
  ``conductor:<workflow name>:<task reference name>`` or ``conductor:<workflow name>:<queue>``
  (Conductor's ``Event.computeQueueName``, which also removes every other ``conductor:`` from
  the queue). Here that queue is the project's ``<p>.event-queues`` topic: key = the queue's
  event name, value = the payload, headers ``message-id`` (the task id, Conductor's message id),
  ``workflow-id`` and ``root-workflow-id``. The event-handler processes consume it
  (orchestrator/events/, docs/adr/0009-event-handlers.md);
- anything else fails for good with Conductor's "Invalid / Unsupported sink specified".

With ``asyncComplete: true`` the task reports IN_PROGRESS after publishing and waits, as in
Conductor, until the API (``POST /api/tasks``, ``POST /api/tasks/{workflowId}/{ref}/COMPLETED``)
or an event handler's ``complete_task`` / ``fail_task`` action ends it; no response timeout
applies to it meanwhile (orchestrator/domain/timers.py).
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.publish import Publisher, PublishError
from orchestrator.worker.task import Outcome, TaskContext, failed

UNSUPPORTED = "Invalid / Unsupported sink specified: {}"


def conductor_queue(sink: str, workflow_name: str, task_ref: str) -> str | None:
    """Conductor's queue (event) name for a ``conductor...`` sink; None if the sink is not one."""
    if sink == "conductor":
        return f"conductor:{workflow_name}:{task_ref}"
    if sink.startswith("conductor:"):
        return f"conductor:{workflow_name}:{sink.replace('conductor:', '')}"
    return None


class EventExecutor:
    def __init__(self, publisher: Publisher, event_queues_topic: str) -> None:
        self.publisher = publisher
        self.event_queues_topic = event_queues_topic

    def __call__(self, task: TaskContext) -> Outcome:
        sink = task.input.get("sink")
        if not sink or not isinstance(sink, str):
            return failed("No sink specified in task")
        d = task.dispatch
        queue = conductor_queue(sink, d.workflow_type, d.reference_task_name)
        kind, _, target = sink.partition(":")
        if queue is None and (kind != "kafka" or not target):
            return failed(UNSUPPORTED.format(sink), terminal=True)
        payload = self.payload(task)
        output = {**payload, "event_produced": queue or sink}
        try:
            if queue is not None:
                self._to_queue(task, queue, output)
            else:
                self.publisher.publish(target, _json(output), key=task.task_id.encode("utf-8"))
        except PublishError as exc:
            return failed(
                f"Error when trying to access the specified queue/topic: {sink}, error: {exc}",
                output={"event_produced": queue or sink},
            )
        status = TaskStatus.IN_PROGRESS if _async_complete(task) else TaskStatus.COMPLETED
        return Outcome(status, output)

    def _to_queue(self, task: TaskContext, queue: str, message: dict[str, Any]) -> None:
        """The message Conductor's Event task pushes: its output data, id = the task id."""
        d = task.dispatch
        headers = {
            "message-id": task.task_id.encode("utf-8"),
            "workflow-id": d.workflow_instance_id.encode("utf-8"),
            "root-workflow-id": d.root_workflow_id.encode("utf-8"),
        }
        key = queue.encode("utf-8")
        self.publisher.publish(self.event_queues_topic, _json(message), key=key, headers=headers)

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


def _async_complete(task: TaskContext) -> bool:
    return task.input.get("asyncComplete") is True


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
