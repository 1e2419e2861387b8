"""The state of one workflow execution: a fold of its events (see evolve.py).

Indexed for O(1) work per event: tasks by id, the current attempt by reference name, the latest
loop iteration by definition reference, JOIN counters, a count of open tasks. Persistent maps
(`immutables.Map`, a HAMT in C; the rarely used set is pyrsistent's) make each event's update
O(log32 n) ~ O(1) and let decide keep cheap working copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from immutables import Map
from pyrsistent import pset
from pyrsistent.typing import PSet

from orchestrator.domain.definitions import JSON, TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.fastcopy import fast_init_module
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus


@dataclass(frozen=True, slots=True)
class TaskState:
    task_id: str
    ref: str
    definition_ref: str
    name: str
    task_type: str
    kind: str
    status: TaskStatus
    input: JSON
    task_def: TaskDef
    seq: int  # Conductor's task seq: 1-based order of scheduling in the workflow
    generation: int
    scheduled_at: int
    first_scheduled_at: int  # first attempt's scheduling time (totalTimeoutSeconds)
    dispatched: bool = True
    queued: bool = False  # handed to the queue for the current wait
    start_delay_ms: int = 0
    output: JSON = field(default_factory=dict)
    retry_count: int = 0
    retried_task_id: str | None = None
    retried: bool = False  # a newer attempt of this task exists
    iteration: int = 0
    optional: bool = False
    poll_count: int = 0
    started_at: int = 0  # first IN_PROGRESS of the attempt
    updated_at: int = 0
    ended_at: int = 0
    callback_after_seconds: int = 0
    reason: str | None = None
    worker_id: str | None = None
    logs: tuple[str, ...] = ()
    child_workflow_id: str | None = None
    dynamic_task: WorkflowTask | None = None
    container_ref: str | None = None

    @property
    def available_at(self) -> int:
        return self.scheduled_at + self.start_delay_ms


@dataclass(frozen=True, slots=True)
class WorkflowState:
    workflow_id: str
    root_workflow_id: str
    definition: WorkflowDef
    status: WorkflowStatus
    input: JSON
    seq: int
    created_at: int
    started_at: int  # start of the current generation (workflow timeout)
    updated_at: int
    generation: int = 0
    correlation_id: str | None = None
    priority: int = 0
    task_to_domain: dict[str, str] = field(default_factory=dict)
    parent_workflow_id: str | None = None
    parent_task_id: str | None = None
    idempotency_key: str | None = None
    output: JSON = field(default_factory=dict)
    variables: JSON = field(default_factory=dict)
    reason: str | None = None
    ended_at: int = 0
    failed_task_id: str | None = None
    failure_workflow_id: str | None = None
    # Conductor's failedReferenceTaskNames / failedTaskNames as the last end recorded them (kept
    # by retry and restart, cleared by rerun); None: never recorded (logs older than the fields)
    failed_ref_names: tuple[str, ...] | None = None
    failed_task_names: tuple[str, ...] | None = None
    task_count: int = 0
    open_count: int = 0  # non-terminal tasks of the current generation
    last_task_id: str | None = None  # newest task record: Conductor's last task (default output)
    tasks: Map[str, TaskState] = field(default_factory=Map)
    by_ref: Map[str, str] = field(default_factory=Map)  # ref (suffixed) -> current attempt
    latest_iteration: Map[str, str] = field(default_factory=Map)  # definition ref -> task id
    join_waiting: Map[str, int] = field(default_factory=Map)  # JOIN task id -> outstanding
    awaited_by: Map[str, str] = field(default_factory=Map)  # joinOn ref -> JOIN task id
    unsettled: PSet[str] = field(default_factory=pset)  # ended while PAUSED, handled on resume
    # Fields added later go last, with a default: older state-table records load (statecodec).
    retried_at: int = 0  # last retry (Conductor's lastRetriedTime): the workflow timeout restarts

    def task(self, task_id: str) -> TaskState | None:
        return self.tasks.get(task_id)

    def current(self, ref: str) -> TaskState | None:
        """The current attempt of `ref` (exact, suffixed name) in this generation."""
        task_id = self.by_ref.get(ref)
        return None if task_id is None else self.tasks[task_id]

    def lookup_ref(self, ref: str) -> TaskState | None:
        """As expressions see refs: exact name first, else the latest loop iteration."""
        task_id = self.by_ref.get(ref) or self.latest_iteration.get(ref)
        return None if task_id is None else self.tasks[task_id]

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


fast_init_module(globals())  # construction on the hot path (fastcopy.fast_init)
