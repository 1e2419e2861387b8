"""How a workflow ends, as Conductor's WorkflowExecutor.completeWorkflow / terminateWorkflow:
open tasks canceled, the output, the failure workflow and the failed task names recorded in
the end event (see failure.py), and permissive failures turning a completion into a failure
(permissive.py). Called through the Cascade's `end_workflow` / `complete_workflow`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.domain import ids
from orchestrator.domain.definitions import JSON
from orchestrator.domain.events import (
    TaskCanceled,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowTerminated,
)
from orchestrator.domain.failure import FAILURE_WORKFLOW_KEY, failed_names
from orchestrator.domain.inputs import workflow_output
from orchestrator.domain.permissive import permissive_reason
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import WorkflowStatus

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade


def open_tasks(state: WorkflowState) -> list[TaskState]:
    tasks = (state.tasks[tid] for tid in state.by_ref.values())
    # Sorted: map iteration order depends on the process's string hashing.
    return sorted((t for t in tasks if not t.status.is_terminal), key=lambda t: t.seq)


def end_workflow(
    c: Cascade,
    status: WorkflowStatus,
    reason: str,
    *,
    failed_task: TaskState | None,
    output: JSON,
    trigger_failure_workflow: bool,
) -> None:
    if c.state.is_terminal:
        return
    for task in open_tasks(c.state):
        c.emit(TaskCanceled, task_id=task.task_id, reason=reason)
    state = c.state
    if output is None:
        output = workflow_output(state, failed_task)
    if status is WorkflowStatus.COMPLETED:
        complete_workflow(c, output, reason)
        return
    failure_id = None
    if state.definition.failure_workflow and trigger_failure_workflow:
        failure_id = ids.failure_workflow_id(state.workflow_id, state.generation)
        if isinstance(output, dict):  # Conductor adds the failure workflow's id
            output = {**output, FAILURE_WORKFLOW_KEY: failure_id}
    fields: dict[str, Any] = {
        "reason": reason,
        "output": output,
        "failure_workflow_id": failure_id,
        "failed_task_id": failed_task.task_id if failed_task else None,
        **_names(state),
    }
    if status is WorkflowStatus.TERMINATED:
        c.emit(WorkflowTerminated, **fields)
    else:
        c.emit(WorkflowFailed, status=status, **fields)


def complete_workflow(c: Cascade, output: JSON, reason: str | None) -> None:
    failed = permissive_reason(c.state)
    if failed is not None:
        end_workflow(
            c,
            WorkflowStatus.FAILED,
            failed,
            failed_task=None,
            output=output,
            trigger_failure_workflow=True,
        )
        return
    c.emit(WorkflowCompleted, output=output, reason=reason, **_names(c.state))


def _names(state: WorkflowState) -> dict[str, tuple[str, ...]]:
    refs, names = failed_names(state)
    return {"failed_ref_names": refs, "failed_task_names": names}
