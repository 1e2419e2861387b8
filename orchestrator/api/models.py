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
