"""A folded execution as read-model rows: what the ``workflows`` and ``tasks`` rows must hold.

Column names and conventions are the read model's (projections/migrations/0001_read_model.sql:
times in epoch ms, NULL for "not yet", JSON as plain values, definitions as Conductor JSON), so
the same rows feed the comparison of ``replay --verify`` and the API's renderer (views.py) for
time travel.
"""

from __future__ import annotations

from typing import Any

from orchestrator.domain.definitions_json import task_def_to_json, workflow_def_to_json
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.replay.fold import Folded
from projections.handlers import workflow_task_json

Row = dict[str, Any]


def _or_none(ms: int) -> int | None:
    return ms or None


def workflow_row(state: WorkflowState, *, with_definition: bool = True) -> Row:
    """The ``workflows`` row of the state (the definition's JSON only when asked: it is big)."""
    failed = state.tasks.get(state.failed_task_id) if state.failed_task_id else None
    return {
        "workflow_id": state.workflow_id,
        "root_workflow_id": state.root_workflow_id or state.workflow_id,
        "parent_workflow_id": state.parent_workflow_id,
        "parent_task_id": state.parent_task_id,
        "workflow_type": state.definition.name,
        "version": state.definition.version,
        "status": state.status.value,
        "correlation_id": state.correlation_id,
        "priority": state.priority,
        "idempotency_key": state.idempotency_key,
        "input": state.input,
        "output": state.output,
        "variables": state.variables,
        "task_to_domain": dict(state.task_to_domain),
        "reason": state.reason,
        "failed_task_id": state.failed_task_id,
        "failed_ref_names": _failed_refs(state, failed),
        "failed_task_names": (
            None if state.failed_task_names is None else list(state.failed_task_names)
        ),
        "failure_workflow_id": state.failure_workflow_id,
        "create_time": state.created_at,
        "start_time": state.started_at,
        "update_time": state.updated_at,
        "end_time": _or_none(state.ended_at),
        "last_seq": state.seq,
        "generation": state.generation,
        "last_retried_time": state.retried_at,
        "task_count": state.task_count,
        "definition": workflow_def_to_json(state.definition) if with_definition else None,
    }


def _failed_refs(state: WorkflowState, failed: TaskState | None) -> list[str]:
    """As recorded by the last end event; for logs older than the names, the rule of their
    time: the reference of the task whose failure failed the workflow."""
    if state.failed_ref_names is not None:
        return list(state.failed_ref_names)
    return [failed.ref] if failed else []


def task_row(workflow_id: str, task: TaskState, retired: bool) -> Row:
    """The ``tasks`` row of one attempt."""
    return {
        "task_id": task.task_id,
        "workflow_id": workflow_id,
        "ref": task.ref,
        "definition_ref": task.definition_ref,
        "name": task.name,
        "task_type": task.task_type,
        "kind": str(task.kind),
        "status": task.status.value,
        "input": task.input,
        "output": task.output,
        "retry_count": task.retry_count,
        "retried_task_id": task.retried_task_id,
        "retried": task.retried,
        "iteration": task.iteration,
        "optional": task.optional,
        "dispatched": task.dispatched,
        "worker_id": task.worker_id,
        "reason": task.reason,
        "logs": list(task.logs),
        "poll_count": task.poll_count,
        "callback_after_seconds": task.callback_after_seconds,
        "start_delay_ms": task.start_delay_ms,
        "child_workflow_id": task.child_workflow_id,
        "task_def": task_def_to_json(task.task_def),
        "workflow_task": None
        if task.dynamic_task is None
        else workflow_task_json(task.dynamic_task),
        "scheduled_time": task.scheduled_at,
        "start_time": _or_none(task.started_at),
        "update_time": task.updated_at,
        "end_time": _or_none(task.ended_at),
        "seq": task.seq,
        "generation": task.generation,
        "retired": retired,
    }


def all_tasks(folded: Folded) -> dict[str, TaskState]:
    """Every task row the read model must hold: the state's plus the archived iterations."""
    assert folded.state is not None
    return {**folded.archived, **dict(folded.state.tasks)}


def current_task_rows(folded: Folded) -> list[Row]:
    """The tasks of the current view (Conductor's ``tasks``), in seq order, as rows."""
    state = folded.state
    assert state is not None
    tasks = sorted(
        (t for t in state.tasks.values() if t.task_id not in folded.retired), key=lambda t: t.seq
    )
    return [task_row(state.workflow_id, t, False) for t in tasks]
