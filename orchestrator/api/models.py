"""Pydantic models of Conductor's JSON shapes at the HTTP edge (field names are Conductor's).

Requests ignore fields they do not know (Conductor clients send more than we use); responses
carry Conductor's field names so existing clients and SDKs read them unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

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
    subworkflowChanged: bool = False  # Conductor's flag for a child changed by an operation


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
    failedTaskNames: list[str] = Field(default_factory=list)
    createTime: int
    startTime: int
    updateTime: int
    endTime: int = 0
    lastRetriedTime: int = 0
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
    failing: list[str] = Field(
        default_factory=list, description="The unhealthy components that make healthy false"
    )


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
    failedTaskNames: list[str] = Field(default_factory=list)
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
    """Every error answer (Conductor's shape; ``retryable`` is true for 503 only; ``code`` is
    the engine's rejection code when the engine refused the command, e.g. WORKFLOW_TERMINAL)."""

    status: int
    message: str
    code: str | None = None
    retryable: bool = False
    validationErrors: list[ErrorProblem] | None = None


# --- definition bodies (documented in /docs; the routes validate the raw JSON themselves) -----
# Conductor's field names and defaults (orchestrator/domain/definitions_json.py is the parser:
# a null reads as absent, unknown fields are ignored, integral strings pass as integers).

Str = str | None
Int = int | None


class TaskDef(BaseModel):
    """Conductor's TaskDef (retries, timeouts, rate limits of a task type)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: Str = None
    retryCount: int = Field(3, ge=0)
    retryLogic: Literal["FIXED", "LINEAR_BACKOFF", "EXPONENTIAL_BACKOFF"] = "FIXED"
    retryDelaySeconds: int = 60
    backoffScaleFactor: int = 1
    maxRetryDelaySeconds: int = 0
    backoffJitterMs: int = 0
    timeoutSeconds: int = 0
    timeoutPolicy: Literal["RETRY", "TIME_OUT_WF", "ALERT_ONLY"] = "TIME_OUT_WF"
    responseTimeoutSeconds: int = 3600
    pollTimeoutSeconds: Int = None
    totalTimeoutSeconds: int = 0
    rateLimitPerFrequency: int = 0
    rateLimitFrequencyInSeconds: int = 1
    concurrentExecLimit: Int = None
    inputTemplate: JSONObject = Field(default_factory=dict)
    ownerEmail: Str = None
    inputKeys: list[str] = Field(default_factory=list)
    outputKeys: list[str] = Field(default_factory=list)


class SubWorkflowParams(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Str = None
    version: Int = None
    workflowDefinition: WorkflowDef | None = None  # inline only (not an expression)
    taskToDomain: dict[str, str] = Field(default_factory=dict)


class WorkflowTask(BaseModel):
    """One task of a workflow definition; the fields used depend on ``type``."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    taskReferenceName: str = Field(min_length=1)
    type: str = "SIMPLE"
    description: Str = None
    inputParameters: JSONObject = Field(default_factory=dict)
    optional: bool = False
    startDelay: int = 0
    asyncComplete: bool = False
    retryCount: Int = None
    taskDefinition: TaskDef | None = None
    evaluatorType: Str = None
    expression: Str = None
    caseValueParam: Str = None
    caseExpression: Str = None
    decisionCases: dict[str, list[WorkflowTask]] = Field(default_factory=dict)
    defaultCase: list[WorkflowTask] = Field(default_factory=list)
    forkTasks: list[list[WorkflowTask]] = Field(default_factory=list)
    joinOn: list[str] = Field(default_factory=list)
    defaultExclusiveJoinTask: list[str] = Field(default_factory=list)
    dynamicForkTasksParam: Str = None
    dynamicForkTasksInputParamName: Str = None
    dynamicTaskNameParam: Str = None
    loopCondition: Str = None
    loopOver: list[WorkflowTask] = Field(default_factory=list)
    subWorkflowParam: SubWorkflowParams | None = None
    sink: Str = None
    items: Str = None


class WorkflowDef(BaseModel):
    """Conductor's WorkflowDef."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    version: int = 1
    description: Str = None
    tasks: list[WorkflowTask] = Field(min_length=1)
    inputParameters: list[str] = Field(default_factory=list)
    outputParameters: JSONObject | None = None
    failureWorkflow: Str = None
    schemaVersion: int = 2
    restartable: bool = True
    timeoutSeconds: int = 0
    timeoutPolicy: Literal["TIME_OUT_WF", "ALERT_ONLY"] = "ALERT_ONLY"
    variables: JSONObject = Field(default_factory=dict)
    inputTemplate: JSONObject = Field(default_factory=dict)
    ownerEmail: Str = None
