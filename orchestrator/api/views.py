"""Read-model rows -> the Conductor JSON models of models.py."""

from __future__ import annotations

from typing import Any

from orchestrator.api.models import Task, Workflow, WorkflowStatusView
from orchestrator.domain.retry import jitter_of

Row = dict[str, Any]


def _object(value: Any) -> dict[str, Any]:
    """Conductor's input/output fields are maps; a non-object JSON value is wrapped."""
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def tasks_by_ref(definition: Any) -> dict[str, Any]:
    """The WorkflowTask JSON of every task of a definition (Conductor JSON) by reference name,
    nested lists included (not an inline sub-workflow's: those tasks are its child's)."""
    found: dict[str, Any] = {}

    def walk(tasks: Any) -> None:
        for t in tasks if isinstance(tasks, list) else ():
            if not isinstance(t, dict):
                continue
            found.setdefault(str(t.get("taskReferenceName")), t)
            cases = t.get("decisionCases")
            for branch in cases.values() if isinstance(cases, dict) else ():
                walk(branch)
            walk(t.get("defaultCase"))
            for branch in t.get("forkTasks") or ():
                walk(branch)
            walk(t.get("loopOver"))

    walk(definition.get("tasks") if isinstance(definition, dict) else None)
    return found


def task_view(row: Row, workflow: Row, specs: dict[str, Any] | None = None) -> Task:
    """`specs`: the definition's tasks_by_ref, when the caller has it (a workflow's tasks)."""
    task_def = row.get("task_def") or {}
    if specs is None:
        specs = tasks_by_ref(workflow.get("definition"))
    # Conductor's Task carries its WorkflowTask: a dynamic task's own, else the definition's
    workflow_task = row["workflow_task"] or specs.get(str(row.get("definition_ref")))
    return Task(
        taskId=row["task_id"],
        taskType=row["task_type"],
        taskDefName=row["name"],
        referenceTaskName=row["ref"],
        status=row["status"],
        inputData=_object(row["input"]),
        outputData=_object(row["output"]),
        retryCount=row["retry_count"],
        retriedTaskId=row["retried_task_id"],
        retried=row["retried"],
        seq=row["seq"],
        pollCount=row["poll_count"],
        scheduledTime=row["scheduled_time"],
        startTime=row["start_time"] or 0,
        endTime=row["end_time"] or 0,
        updateTime=row["update_time"],
        startDelayInSeconds=_start_delay_seconds(row),
        callbackAfterSeconds=_callback_after_seconds(row),
        responseTimeoutSeconds=task_def.get("responseTimeoutSeconds"),
        workerId=row["worker_id"],
        reasonForIncompletion=row["reason"],
        iteration=_iteration(row),
        loopOverTask=_iteration(row) > 0,
        subWorkflowId=row["child_workflow_id"],
        workflowInstanceId=row["workflow_id"],
        workflowType=workflow["workflow_type"],
        correlationId=workflow["correlation_id"],
        workflowPriority=workflow["priority"],
        taskDefinition=task_def or None,
        workflowTask=workflow_task,
        executed=row["status"] not in ("SCHEDULED", "IN_PROGRESS"),
    )


TERMINAL = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"})
FAILED_TASK = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR"})


def failed_names(row: Row, tasks: list[Row] | None) -> tuple[list[str], list[str]]:
    """failedReferenceTaskNames and failedTaskNames, as Conductor fills them when a workflow
    ends (completeWorkflow / terminateWorkflow): as the end events record them (ADR 0002
    "Failure"; kept by retry and restart). For runs recorded before the events carried them
    (failed_task_names NULL): every task of the run that ended FAILED or
    FAILED_WITH_TERMINAL_ERROR, retried or not, plus the task the run failed on."""
    if row.get("failed_task_names") is not None:
        return list(row["failed_ref_names"] or []), list(row["failed_task_names"])
    refs = set(row["failed_ref_names"] or [])
    names: set[str] = set()
    if tasks is not None and row["status"] in TERMINAL:
        failed = [t for t in tasks if t["status"] in FAILED_TASK or t["ref"] in refs]
        refs |= {t["ref"] for t in failed}
        names = {t["name"] for t in failed}
    return sorted(refs), sorted(names)


def _iteration(row: Row) -> int:
    """Conductor's `iteration`: a DO_WHILE's is the iteration it runs (its output's); see
    orchestrator.domain.inputs.conductor_iteration, the same rule over a TaskState."""
    output = row["output"]
    if row["kind"] == "DO_WHILE" and isinstance(output, dict):
        current = output.get("iteration")
        if isinstance(current, int) and not isinstance(current, bool):
            return current
    return int(row["iteration"])


def _start_delay_seconds(row: Row) -> int:
    """Conductor's startDelayInSeconds: without the retry's jitter (inputs.start_delay_seconds
    over a TaskState)."""
    delay_ms = int(row["start_delay_ms"])
    if row["retried_task_id"] is not None:
        bound = (row.get("task_def") or {}).get("backoffJitterMs") or 0
        delay_ms -= jitter_of(int(bound), row["retried_task_id"])
    return max(0, delay_ms) // 1000


def _callback_after_seconds(row: Row) -> int:
    """A task waiting out its start or retry delay shows the delay, as Conductor's
    (inputs.conductor_callback over a TaskState)."""
    waiting = row["status"] == "SCHEDULED" and row["start_time"] is None
    if waiting and row["start_delay_ms"]:
        return _start_delay_seconds(row)
    return int(row["callback_after_seconds"])


def workflow_view(row: Row, tasks: list[Row] | None) -> Workflow:
    failed_refs, failed_task_names = failed_names(row, tasks)
    specs = tasks_by_ref(row.get("definition")) if tasks else {}
    return Workflow(
        workflowId=row["workflow_id"],
        workflowName=row["workflow_type"],
        workflowType=row["workflow_type"],
        version=row["version"],
        workflowVersion=row["version"],
        status=row["status"],
        input=_object(row["input"]),
        output=_object(row["output"]),
        variables=_object(row["variables"]),
        correlationId=row["correlation_id"],
        priority=row["priority"],
        reasonForIncompletion=row["reason"],
        failedReferenceTaskNames=failed_refs,
        failedTaskNames=failed_task_names,
        createTime=row["create_time"],
        startTime=row["start_time"],
        updateTime=row["update_time"],
        endTime=row["end_time"] or 0,
        lastRetriedTime=row.get("last_retried_time") or 0,
        parentWorkflowId=row["parent_workflow_id"],
        parentWorkflowTaskId=row["parent_task_id"],
        rootWorkflowId=row["root_workflow_id"],
        taskToDomain=row["task_to_domain"] or {},
        idempotencyKey=row["idempotency_key"],
        workflowDefinition=row["definition"],
        tasks=[task_view(t, row, specs) for t in tasks or []],
    )


def status_view(row: Row) -> WorkflowStatusView:
    return WorkflowStatusView(
        workflowId=row["workflow_id"],
        correlationId=row["correlation_id"],
        status=row["status"],
        output=_object(row["output"]),
        variables=_object(row["variables"]),
    )
