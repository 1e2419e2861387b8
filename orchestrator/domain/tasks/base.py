"""The task-type plug-in protocol and its registry.

A handler says what happens when a task of its type is reached (`start`: leave it for a worker,
evaluate it inline and complete it, start a child...), and how it reacts to what concerns it
(a nested list ran to its end, an awaited task ended, a child finished, its own timer fired).
Handlers never mutate anything: they call the Cascade, which emits events and evolves its
working copy. See docs/adr/0002 "How to add a task type".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.statuses import TaskStatus

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.commands import ChildWorkflowFinished, TimerFired
    from orchestrator.domain.effects import Effect
    from orchestrator.domain.events import Event
    from orchestrator.domain.outcome import Rejected
    from orchestrator.domain.state import TaskState, WorkflowState


class TaskHandler(Protocol):
    kinds: tuple[TaskType, ...]
    dispatched: bool  # handed to a worker/system executor by react; task timeouts apply
    accepts_reports: bool  # workers / the API may report a result for it
    initial_status: TaskStatus  # SCHEDULED, or IN_PROGRESS for tasks that wait in the engine
    starts_child: bool  # the task gets `child_workflow_id` = ids.child_workflow_id(task id)
    # an IN_PROGRESS report puts it back to SCHEDULED, handed out again after its callback
    requeued_on_progress: bool

    def task_type(self, wt: WorkflowTask) -> str:
        """Conductor's `taskType` (the queue name for dispatched tasks)."""
        ...

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        """The task input, given the resolved inputParameters (hook: e.g. EVENT adds `sink`)."""
        ...

    def refusal(self, c: Cascade, wt: WorkflowTask, task_input: JSON, iteration: int) -> str | None:
        """Why the workflow fails instead of scheduling this task (Conductor's task mappers
        throwing TerminateWorkflowException: no task is recorded), or None to schedule it."""
        ...

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        """Right after TaskScheduled: do the inline part, if any (complete, fail, branch...)."""
        ...

    def on_container_end(self, c: Cascade, container: TaskState, finished: TaskState) -> None:
        """A task list nested in `container` ran to its end with `finished`."""
        ...

    def on_awaited_done(self, c: Cascade, task: TaskState) -> None:
        """A task that `task` waits for (JOIN's joinOn) ended successfully."""
        ...

    def on_child_done(
        self, c: Cascade, task: TaskState, cmd: ChildWorkflowFinished
    ) -> Rejected | None:
        """The child workflow of `task` ended."""
        ...

    def on_timer(self, c: Cascade, task: TaskState, cmd: TimerFired) -> None:
        """A HANDLER timer (from `handler_deadline`) fired and is due."""
        ...

    def handler_deadline(self, state: WorkflowState, task: TaskState) -> int | None:
        """When this open task wants a HANDLER timer (e.g. WAIT's wake-up), or None."""
        ...

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        """Workflow retry of this failed task; True if handled (else a new attempt is made)."""
        ...

    def resolve(self, c: Cascade, wt: WorkflowTask) -> WorkflowTask:
        """The WorkflowTask to schedule for `wt`: itself, or (DYNAMIC) the task it names at run
        time; a different one is scheduled in its place and kept in its TaskScheduled event."""
        ...

    def effects(
        self, state: WorkflowState, task: TaskState, event: Event | None
    ) -> tuple[Effect, ...]:
        """What react adds after `event` about `task` was applied (e.g. start a child workflow);
        `event` None: resume after a restart, for an open task. Harmless when repeated."""
        ...


_REGISTRY: dict[TaskType, TaskHandler] = {}
# handler_for's answers for known kinds: it runs several times per event, and the import check
# plus the Enum lookup were a visible share of the processor's CPU. Valid for the registry it
# was filled from (register() clears it; a test may swap the registry).
_RESOLVED: dict[str, TaskHandler] = {}
_RESOLVED_FROM: list[dict[TaskType, TaskHandler]] = [_REGISTRY]


def register(handler: TaskHandler) -> TaskHandler:
    for kind in handler.kinds:
        _REGISTRY[kind] = handler
    _RESOLVED.clear()
    return handler


def handler_for(kind: str) -> TaskHandler:
    """The handler of a task kind; unknown and not-yet-implemented kinds run as SIMPLE."""
    if _RESOLVED_FROM[0] is _REGISTRY:
        handler = _RESOLVED.get(kind)
        if handler is not None:
            return handler
    else:
        _RESOLVED.clear()
        _RESOLVED_FROM[0] = _REGISTRY
    from orchestrator.domain import tasks  # noqa: F401  (registers the built-in handlers)

    try:
        handler = _REGISTRY[TaskType(kind)]
    except (ValueError, KeyError):
        return _REGISTRY[TaskType.SIMPLE]  # not cached: kinds outside TaskType are unbounded
    _RESOLVED[kind] = handler
    return handler


def registered_kinds() -> frozenset[TaskType]:
    from orchestrator.domain import tasks  # noqa: F401

    return frozenset(_REGISTRY)
