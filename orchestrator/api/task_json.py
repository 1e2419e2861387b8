"""Conductor's worker-facing JSON: the Task a poll returns and the TaskResult a worker posts.

Field names are Conductor's (``com.netflix.conductor.common.metadata.tasks.Task`` and
``TaskResult``), so the official SDKs (conductor-python's ``Task``/``TaskResult`` models)
deserialize them unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus

# What a worker may report (Conductor's TaskResult.Status).
WORKER_STATUSES = (
    TaskStatus.IN_PROGRESS,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.FAILED_WITH_TERMINAL_ERROR,
)


def as_object(value: Any) -> dict[str, Any]:
    """Conductor's inputData/outputData are maps; any other JSON value is wrapped."""
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def task_json(
    dispatch: DispatchTask, input_data: Any, worker_id: str | None, now_ms: int
) -> dict[str, Any]:
    """The Task handed to a poller: IN_PROGRESS, picked up now by ``worker_id``.

    ``input_data`` is the dispatch's input with its secrets resolved: this document goes to the
    worker only and must never be logged.
    """
    d = dispatch
    return {
        "taskId": d.task_id,
        "taskType": d.task_type,
        "taskDefName": d.task_def_name,
        "referenceTaskName": d.reference_task_name,
        "status": TaskStatus.IN_PROGRESS.value,
        "inputData": as_object(input_data),
        "outputData": {},
        "workflowInstanceId": d.workflow_instance_id,
        "workflowType": d.workflow_type,
        "correlationId": d.correlation_id,
        "workflowPriority": d.workflow_priority,
        "retryCount": d.retry_count,
        "retriedTaskId": d.retried_task_id,
        "retried": False,
        "executed": False,
        "callbackFromWorker": True,
        "seq": d.seq,
        "pollCount": d.poll_count + 1,
        "workerId": worker_id,
        "scheduledTime": d.scheduled_time,
        "startTime": now_ms,
        "updateTime": now_ms,
        "endTime": 0,
        "queueWaitTime": max(0, now_ms - d.scheduled_time),
        "startDelayInSeconds": d.start_delay_in_seconds,
        "callbackAfterSeconds": 0,  # Conductor's poll resets it: the task is IN_PROGRESS
        "responseTimeoutSeconds": d.response_timeout_seconds,
        "domain": d.domain,
        "iteration": d.iteration,
        "loopOverTask": d.iteration > 0,
        "rateLimitPerFrequency": d.rate_limit_per_frequency,
        "rateLimitFrequencyInSeconds": d.rate_limit_frequency_in_seconds,
    }


class TaskResultBody(BaseModel):
    """POST /api/tasks: Conductor's TaskResult (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    workflowInstanceId: str = Field(min_length=1)
    taskId: str = Field(min_length=1)
    status: TaskStatus
    outputData: dict[str, Any] | None = None
    reasonForIncompletion: str | None = None
    callbackAfterSeconds: int | None = Field(default=None, ge=0)
    workerId: str | None = None
    logs: list[Any] | None = None
    # Conductor's heartbeat: the task stays IN_PROGRESS, only its lease (response timeout) is
    # renewed; the rest of the result is ignored, as Conductor's extendLease does.
    extendLease: bool = False

    def log_lines(self) -> tuple[str, ...]:
        """Conductor sends TaskExecLog objects ``{log, taskId, createdTime}``; keep the text."""
        lines = []
        for entry in self.logs or ():
            if isinstance(entry, dict):
                text = entry.get("log")
                if text is not None:
                    lines.append(str(text))
            elif entry is not None:
                lines.append(str(entry))
        return tuple(lines)
