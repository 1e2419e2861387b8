"""Commands: requests to change one workflow execution. `decide` accepts or rejects them.

Every command names its workflow (`workflow_id`) and the root of its tree (`root_workflow_id`,
the Kafka key; "" means the workflow is its own root), carries `at` (epoch ms, set by its
producer) and `actor` (`api:<caller>`, `worker:<id>`, `timer`, `engine`). Fields are primitives,
tuples, JSON values, StrEnums and definition dataclasses only, so they map mechanically to Avro.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator.domain.definitions import JSON, WorkflowDef
from orchestrator.domain.fastcopy import fast_init_module
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus


class IdempotencyStrategy(StrEnum):
    FAIL = "FAIL"
    RETURN_EXISTING = "RETURN_EXISTING"
    FAIL_ON_RUNNING = "FAIL_ON_RUNNING"


class TimerKind(StrEnum):
    TASK_DELAY = "TASK_DELAY"  # startDelay / retry delay over: hand the task to its queue
    CALLBACK = "CALLBACK"  # callbackAfterSeconds over: hand the task to its queue again
    RESPONSE_TIMEOUT = "RESPONSE_TIMEOUT"
    TASK_TIMEOUT = "TASK_TIMEOUT"
    POLL_TIMEOUT = "POLL_TIMEOUT"
    TOTAL_TIMEOUT = "TOTAL_TIMEOUT"
    WORKFLOW_TIMEOUT = "WORKFLOW_TIMEOUT"
    HANDLER = "HANDLER"  # owned by the task type's handler (e.g. WAIT's wake-up)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandBase:
    workflow_id: str
    at: int
    actor: str
    root_workflow_id: str = ""

    @property
    def root(self) -> str:
        return self.root_workflow_id or self.workflow_id


@dataclass(frozen=True, slots=True, kw_only=True)
class StartWorkflow(CommandBase):
    name: str
    version: int | None = None  # None = latest
    definition: WorkflowDef | None = None  # inline definition, wins over (name, version)
    input: JSON = field(default_factory=dict)
    correlation_id: str | None = None
    priority: int = 0
    task_to_domain: dict[str, str] = field(default_factory=dict)
    parent_workflow_id: str | None = None
    parent_task_id: str | None = None
    idempotency_key: str | None = None
    idempotency_strategy: IdempotencyStrategy = IdempotencyStrategy.FAIL


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminateWorkflow(CommandBase):
    reason: str = ""
    trigger_failure_workflow: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FailWorkflow(CommandBase):
    """Sent by the engine itself (actor "engine") when an execution cannot go on, e.g. its state
    outgrew the processor's limit: the workflow ends FAILED with `reason`, its open tasks
    canceled, its failure workflow started. Never lets the execution stall or stop the engine."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseWorkflow(CommandBase):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeWorkflow(CommandBase):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartWorkflow(CommandBase):
    use_latest_definition: bool = False
    definition: WorkflowDef | None = None  # the latest definition, if the edge looked it up


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryWorkflow(CommandBase):
    resume_subworkflow_tasks: bool = False
    # Set by the engine: the child workflow of this task was retried, so the task reopens in
    # place (waiting for that child) and its workflow runs again (Conductor's updateAndPushParents).
    child_task_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunWorkflow(CommandBase):
    from_task_id: str
    workflow_input: JSON = None  # None = keep
    task_input: JSON = None  # None = resolve again; else the rerun task's input (as Conductor)
    # Set by the engine: the child workflow of task `from_task_id` was rerun, so that task is
    # reopened in place (waiting for that child) instead of getting a new attempt.
    rerun_child_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipTask(CommandBase):
    task_ref: str
    input: JSON = field(default_factory=dict)
    output: JSON = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateTaskByRef(CommandBase):
    task_ref: str
    status: TaskStatus
    output: JSON = field(default_factory=dict)
    reason: str | None = None
    worker_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildWorkflowFinished(CommandBase):
    """Sent by a child to its parent (`workflow_id` = the parent's id)."""

    parent_task_id: str
    child_workflow_id: str
    status: WorkflowStatus
    output: JSON = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(CommandBase):
    kind: TimerKind
    due_at: int
    task_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(CommandBase):
    """A worker took the task (poll = acknowledgement): SCHEDULED -> IN_PROGRESS."""

    task_id: str
    worker_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportTaskResult(CommandBase):
    task_id: str
    status: TaskStatus
    output: JSON = field(default_factory=dict)
    reason: str | None = None
    logs: tuple[str, ...] = ()
    callback_after_seconds: int = 0
    worker_id: str | None = None
    started_at: int | None = None  # a fast task's pickup and result in one record
    # IN_PROGRESS only: a heartbeat (Conductor's extendLease), the task stays IN_PROGRESS;
    # else a worker task goes back to SCHEDULED, handed out again after callback_after_seconds.
    extend_lease: bool = False


Command = (
    StartWorkflow
    | TerminateWorkflow
    | FailWorkflow
    | PauseWorkflow
    | ResumeWorkflow
    | RestartWorkflow
    | RetryWorkflow
    | RerunWorkflow
    | SkipTask
    | UpdateTaskByRef
    | ChildWorkflowFinished
    | TimerFired
    | TaskStarted
    | ReportTaskResult
)

COMMAND_TYPES: tuple[type[CommandBase], ...] = (
    StartWorkflow,
    TerminateWorkflow,
    FailWorkflow,
    PauseWorkflow,
    ResumeWorkflow,
    RestartWorkflow,
    RetryWorkflow,
    RerunWorkflow,
    SkipTask,
    UpdateTaskByRef,
    ChildWorkflowFinished,
    TimerFired,
    TaskStarted,
    ReportTaskResult,
)

fast_init_module(globals())  # construction on the hot path (fastcopy.fast_init)
