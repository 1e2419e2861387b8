"""Conductor's `permissive` tasks (DeciderService, Join): a permissive task that fails for good
(retries spent; not optional, whose failure wins as COMPLETED_WITH_ERRORS) stays FAILED (or
TIMED_OUT, CANCELED...) and the workflow goes on after it; a JOIN waiting on it fails once
everything it waits for has ended; when the workflow would complete (or a TERMINATE task ends
it), it fails instead with "Task <id> failed with status: <status> and reason: '<reason>'" for
each such task (the latest attempt of each reference), joined by ". ".
"""

from __future__ import annotations

from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import WorkflowTask
from orchestrator.domain.state import TaskState, WorkflowState


def spec_of(state: WorkflowState, task: TaskState) -> WorkflowTask | None:
    """The WorkflowTask `task` runs (embedded if dynamic), if the definition still has it."""
    return task.dynamic_task or index_of(state.definition).by_ref.get(task.definition_ref)


def is_permissive(state: WorkflowState, task: TaskState) -> bool:
    spec = spec_of(state, task)
    return spec is not None and spec.permissive and not task.optional


def permitted(state: WorkflowState, task: TaskState) -> bool:
    """`task` ended unsuccessfully and its failure was let through (it is the current attempt:
    a failure that is retried or ends the workflow is not current once settled)."""
    status = task.status
    return status.is_terminal and not status.is_successful and is_permissive(state, task)


def permitted_failures(state: WorkflowState) -> list[TaskState]:
    """The current attempts that failed permissively, in scheduling order (linear: called when
    the workflow would end)."""
    current = (state.tasks[tid] for tid in state.by_ref.values())
    return sorted((t for t in current if permitted(state, t)), key=lambda t: t.seq)


def permissive_reason(state: WorkflowState) -> str | None:
    """Why the workflow fails instead of completing, or None if nothing failed permissively."""
    failures = permitted_failures(state)
    if not failures:
        return None
    return ". ".join(
        f"Task {t.task_id} failed with status: {t.status} and reason: '{_java(t.reason)}'"
        for t in failures
    )


def _java(reason: str | None) -> str:
    return "null" if reason is None else reason  # Java's String.format of a null
