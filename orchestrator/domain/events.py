"""Events: facts about one workflow execution, the log of record. Only `evolve` applies them.

Each event carries `workflow_id`, `root_workflow_id` (the Kafka key), `seq` (1-based, gap-free per
workflow), `at` and `actor` (inherited from the command that caused it). Fields are primitives,
tuples, JSON values, StrEnums and definition dataclasses only (mechanically mappable to Avro).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.domain.definitions import JSON, TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.fastcopy import fast_init_module
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBase:
    workflow_id: str
    root_workflow_id: str
    seq: int
    at: int
    actor: str


# --- workflow lifecycle ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStarted(EventBase):
    definition: WorkflowDef  # embedded: the log replays without lookups
    input: JSON
    correlation_id: str | None = None
    priority: int = 0
    task_to_domain: dict[str, str] = field(default_factory=dict)
    parent_workflow_id: str | None = None
    parent_task_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRestarted(EventBase):
    """A new run (generation) of a terminal workflow, from its first task; history is kept."""

    definition: WorkflowDef
    input: JSON
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRetried(EventBase):
    """Back to RUNNING before the new attempts of the failed tasks. Its time is Conductor's
    lastRetriedTime: the workflow timeout runs from it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRerun(EventBase):
    """A new generation resuming at task `from_task_id`. `retired_task_ids` leave the current
    view (the log keeps them): the rerun task (unless it is reopened in place, for a rerun inside
    its child workflow) and everything downstream of it; sibling fork branches stay. Logs
    written before these fields existed (`retired_listed` false): the tasks with seq >= the
    rerun task's seq."""

    from_task_id: str
    input: JSON
    retired_task_ids: tuple[str, ...] = ()
    retired_listed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowPaused(EventBase):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowResumed(EventBase):
    pass


# The end events carry Conductor's failedReferenceTaskNames / failedTaskNames as they are from
# that end on (sorted; what earlier ends of the execution recorded included): None in events
# written before the fields existed, whose readers keep the rule of that time (the failed
# task's reference only, on WorkflowFailed).


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowCompleted(EventBase):
    output: JSON
    reason: str | None = None  # a TERMINATE task's reason (Conductor sets it when COMPLETED too)
    failed_ref_names: tuple[str, ...] | None = None
    failed_task_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowFailed(EventBase):
    status: WorkflowStatus  # FAILED or TIMED_OUT
    reason: str
    output: JSON = field(default_factory=dict)
    failed_task_id: str | None = None
    failure_workflow_id: str | None = None
    failed_ref_names: tuple[str, ...] | None = None
    failed_task_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowTerminated(EventBase):
    reason: str
    output: JSON = field(default_factory=dict)
    failure_workflow_id: str | None = None
    failed_task_id: str | None = None  # the TERMINATE task that ended it, if one did
    failed_ref_names: tuple[str, ...] | None = None
    failed_task_names: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VariablesUpdated(EventBase):
    variables: JSON  # merged over the current variables


# --- task lifecycle -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskScheduled(EventBase):
    task_id: str
    ref: str  # reference name, with loop suffix
    definition_ref: str  # the WorkflowTask's reference name in the definition
    name: str  # task (definition) name
    task_type: str  # Conductor taskType: the name for SIMPLE, the type otherwise
    kind: str  # the TaskType it runs as
    input: JSON
    task_def: TaskDef  # effective settings for this attempt (retryCount override applied)
    status: TaskStatus = TaskStatus.SCHEDULED  # waiting system tasks start IN_PROGRESS
    dispatched: bool = True  # handed to a worker / system executor
    start_delay_ms: int = 0
    retry_count: int = 0
    retried_task_id: str | None = None
    iteration: int = 0
    optional: bool = False
    child_workflow_id: str | None = None
    dynamic_task: WorkflowTask | None = None  # a task made at run time (not in the definition)
    container_ref: str | None = None  # for dynamic tasks: the task whose list they belong to


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskQueued(EventBase):
    """The task is handed to its queue (after a start/retry delay or a callback delay)."""

    task_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPickedUp(EventBase):
    task_id: str
    worker_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskProgressed(EventBase):
    """An IN_PROGRESS report: heartbeat, partial output, maybe a callback delay."""

    task_id: str
    output: JSON = field(default_factory=dict)
    logs: tuple[str, ...] = ()
    callback_after_seconds: int = 0
    worker_id: str | None = None
    started_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPostponed(EventBase):
    """A worker reported IN_PROGRESS ("not done, hand it to me again"): as Conductor's
    updateTask for a worker task, it goes back to SCHEDULED and to its queue after
    `callback_after_seconds` (at once for 0); no response timeout runs until it is picked up
    again. (A heartbeat that keeps it IN_PROGRESS, Conductor's extendLease, is TaskProgressed.)"""

    task_id: str
    output: JSON = field(default_factory=dict)
    logs: tuple[str, ...] = ()
    callback_after_seconds: int = 0
    worker_id: str | None = None
    started_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompleted(EventBase):
    task_id: str
    output: JSON = field(default_factory=dict)
    logs: tuple[str, ...] = ()
    worker_id: str | None = None
    started_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(EventBase):
    task_id: str
    status: TaskStatus  # FAILED, TIMED_OUT or FAILED_WITH_TERMINAL_ERROR
    reason: str
    output: JSON = field(default_factory=dict)
    logs: tuple[str, ...] = ()
    worker_id: str | None = None
    started_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCompletedWithErrors(EventBase):
    """An optional task failed for good, or a JOIN ended over optional tasks that did (Conductor's
    JOIN is COMPLETED_WITH_ERRORS then); the workflow goes on."""

    task_id: str
    output: JSON = field(default_factory=dict)  # a JOIN's: its joinOn outputs
    reason: str | None = None  # None: the task keeps its reason (the failure's)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailurePermitted(EventBase):
    """A permissive task failed for good (Conductor's `permissive`): it stays as it ended, the
    workflow goes on after it (a JOIN waiting on it counts it as ended) and fails when it ends."""

    task_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSkipped(EventBase):
    """A task skipped by request before it was reached (creates the task record)."""

    task_id: str
    ref: str
    input: JSON = field(default_factory=dict)
    output: JSON = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCanceled(EventBase):
    task_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopIterationsRemoved(EventBase):
    """Finished DO_WHILE iterations dropped from the state (keepLastN); the log keeps them."""

    task_id: str  # the DO_WHILE task
    output_keys: tuple[str, ...] = ()  # iteration numbers removed from the DO_WHILE's output
    removed_task_ids: tuple[str, ...] = ()  # the task records of those iterations


Event = (
    WorkflowStarted
    | WorkflowRestarted
    | WorkflowRetried
    | WorkflowRerun
    | WorkflowPaused
    | WorkflowResumed
    | WorkflowCompleted
    | WorkflowFailed
    | WorkflowTerminated
    | VariablesUpdated
    | TaskScheduled
    | TaskQueued
    | TaskPickedUp
    | TaskProgressed
    | TaskPostponed
    | TaskCompleted
    | TaskFailed
    | TaskCompletedWithErrors
    | TaskFailurePermitted
    | TaskSkipped
    | TaskCanceled
    | LoopIterationsRemoved
)

EVENT_TYPES: tuple[type[EventBase], ...] = (
    WorkflowStarted,
    WorkflowRestarted,
    WorkflowRetried,
    WorkflowRerun,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowTerminated,
    VariablesUpdated,
    TaskScheduled,
    TaskQueued,
    TaskPickedUp,
    TaskProgressed,
    TaskPostponed,
    TaskCompleted,
    TaskFailed,
    TaskCompletedWithErrors,
    TaskFailurePermitted,
    TaskSkipped,
    TaskCanceled,
    LoopIterationsRemoved,
)

fast_init_module(globals())  # construction on the hot path (fastcopy.fast_init)
