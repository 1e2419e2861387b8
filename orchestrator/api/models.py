"""Pydantic models of Conductor's JSON shapes at the HTTP edge (field names are Conductor's).

Requests ignore fields they do not know (Conductor clients send more than we use); responses
carry Conductor's field names so existing clients and SDKs read them unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.domain.commands import IdempotencyStrategy

JSONObject = dict[str, Any]


class StartWorkflowRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    version: int | None = None
    correlationId: str | None = None
    input: JSONObject = Field(default_factory=dict)
    taskToDomain: dict[str, str] = Field(default_factory=dict)
    workflowDef: JSONObject | None = None
    priority: int = Field(default=0, ge=0, le=99)
    idempotencyKey: str | None = None
    idempotencyStrategy: IdempotencyStrategy = IdempotencyStrategy.FAIL


class Task(BaseModel):
    """Conductor's Task, as GET /workflow/{id} lists them."""

    taskId: str
    taskType: str
    taskDefName: str
    referenceTaskName: str
    status: str
    inputData: JSONObject
    outputData: JSONObject
    retryCount: int
    retriedTaskId: str | None = None
    retried: bool = False
    seq: int
    pollCount: int = 0
    scheduledTime: int
    startTime: int = 0
    endTime: int = 0
    updateTime: int
    startDelayInSeconds: int = 0
    callbackAfterSeconds: int = 0
    responseTimeoutSeconds: int | None = None
    workerId: str | None = None
    reasonForIncompletion: str | None = None
    iteration: int = 0
    loopOverTask: bool = False
    subWorkflowId: str | None = None
    workflowInstanceId: str
    workflowType: str
    correlationId: str | None = None
    workflowPriority: int = 0
    taskDefinition: JSONObject | None = None
    workflowTask: JSONObject | None = None
    executed: bool = False


class Workflow(BaseModel):
    """Conductor's Workflow (an execution)."""

    workflowId: str
    workflowName: str
    workflowType: str  # the name again, as WorkflowSummary calls it
    version: int
    workflowVersion: int
    status: str
    input: JSONObject
    output: JSONObject
    variables: JSONObject
    correlationId: str | None = None
    priority: int = 0
    reasonForIncompletion: str | None = None
    failedReferenceTaskNames: list[str] = Field(default_factory=list)
    createTime: int
    startTime: int
    updateTime: int
    endTime: int = 0
    parentWorkflowId: str | None = None
    parentWorkflowTaskId: str | None = None
    rootWorkflowId: str
    taskToDomain: dict[str, str] = Field(default_factory=dict)
    idempotencyKey: str | None = None
    workflowDefinition: JSONObject | None = None
    tasks: list[Task] = Field(default_factory=list)


class WorkflowStatusView(BaseModel):
    """GET /workflow/{id}/status."""

    workflowId: str
    correlationId: str | None = None
    status: str
    output: JSONObject
    variables: JSONObject


class ComponentHealth(BaseModel):
    healthy: bool
    details: JSONObject = Field(default_factory=dict)


class Health(BaseModel):
    healthy: bool
    components: dict[str, ComponentHealth]


# --- read-side shapes shown in /docs (added with the OpenAPI fuzz test) ----------------------


class WorkflowSummary(BaseModel):
    """Conductor's WorkflowSummary (search): times as UTC text, input/output as JSON text."""

    workflowType: str
    version: int
    workflowId: str
    correlationId: str | None = None
    startTime: str | None = None
    updateTime: str | None = None
    endTime: str | None = None
    status: str
    input: str
    output: str
    reasonForIncompletion: str | None = None
    executionTime: int = 0
    event: str | None = None
    failedReferenceTaskNames: str = ""
    priority: int = 0
    parentWorkflowId: str | None = None
    rootWorkflowId: str


class TaskSummary(BaseModel):
    """Conductor's TaskSummary (task search)."""

    workflowId: str
    workflowType: str
    correlationId: str | None = None
    scheduledTime: str | None = None
    startTime: str | None = None
    updateTime: str | None = None
    endTime: str | None = None
    status: str
    reasonForIncompletion: str | None = None
    executionTime: int = 0
    queueWaitTime: int = 0
    taskDefName: str
    taskType: str
    referenceTaskName: str
    input: str
    output: str
    taskId: str
    workerId: str | None = None
    workflowPriority: int = 0


class WorkflowSummaries(BaseModel):
    """SearchResult<WorkflowSummary>."""

    totalHits: int
    results: list[WorkflowSummary]


class WorkflowSearchResult(BaseModel):
    """SearchResult<Workflow> (without tasks)."""

    totalHits: int
    results: list[Workflow]


class TaskSummaries(BaseModel):
    """SearchResult<TaskSummary>."""

    totalHits: int
    results: list[TaskSummary]


class TaskSearchResult(BaseModel):
    """SearchResult<Task>."""

    totalHits: int
    results: list[Task]


class BulkResponse(BaseModel):
    bulkSuccessfulResults: list[str]
    bulkErrorResults: dict[str, str]


class HistoryEntry(BaseModel):
    """One event of an execution (GET /workflow/{id}/history)."""

    seq: int
    type: str
    at: int
    actor: str
    data: JSONObject


class ErrorProblem(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer (Conductor's shape; ``retryable`` is true for 503 only)."""

    status: int
    message: str
    retryable: bool = False
    validationErrors: list[ErrorProblem] | None = None
