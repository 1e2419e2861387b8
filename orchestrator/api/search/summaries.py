"""Read-model rows -> Conductor's WorkflowSummary and TaskSummary JSON.

As Conductor's summaries (the documents it indexes for search): times are UTC text
``yyyy-MM-ddTHH:mm:ss.SSSZ`` (absent while unset), ``input``/``output`` are strings and
``failedReferenceTaskNames`` is one comma-separated string (``failedTaskNames`` a list). The strings are compact JSON, as
Conductor writes them with ``summary-input-output-json-serialization`` on (its default,
Java's ``Map.toString()``, cannot be parsed back).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

Row = dict[str, Any]


def iso_time(epoch_ms: int | None) -> str | None:
    if not epoch_ms:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _text(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def workflow_summary(row: Row) -> dict[str, Any]:
    end = row["end_time"]
    return {
        "workflowType": row["workflow_type"],
        "version": row["version"],
        "workflowId": row["workflow_id"],
        "correlationId": row["correlation_id"],
        "startTime": iso_time(row["start_time"]),
        "updateTime": iso_time(row["update_time"]),
        "endTime": iso_time(end),
        "status": row["status"],
        "input": _text(row["input"]),
        "output": _text(row["output"]),
        "reasonForIncompletion": row["reason"],
        "executionTime": end - row["start_time"] if end else 0,
        "event": None,
        "failedReferenceTaskNames": ",".join(row["failed_ref_names"] or ()),
        "failedTaskNames": list(row.get("failed_task_names") or ()),
        "priority": row["priority"],
        "parentWorkflowId": row["parent_workflow_id"],
        "rootWorkflowId": row["root_workflow_id"],
    }


def task_summary(row: Row) -> dict[str, Any]:
    start, end, scheduled = row["start_time"], row["end_time"], row["scheduled_time"]
    return {
        "workflowId": row["workflow_id"],
        "workflowType": row["workflow_type"],
        "correlationId": row["correlation_id"],
        "scheduledTime": iso_time(scheduled),
        "startTime": iso_time(start),
        "updateTime": iso_time(row["update_time"]),
        "endTime": iso_time(end),
        "status": row["status"],
        "reasonForIncompletion": row["reason"],
        "executionTime": end - start if end and start else 0,
        "queueWaitTime": start - scheduled if start else 0,
        "taskDefName": row["name"],
        "taskType": row["task_type"],
        "referenceTaskName": row["ref"],
        "input": _text(row["input"]),
        "output": _text(row["output"]),
        "taskId": row["task_id"],
        "workerId": row["worker_id"],
        "workflowPriority": row["workflow_priority"],
    }
