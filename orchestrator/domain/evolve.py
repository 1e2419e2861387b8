"""evolve(state, event) -> state: applies facts, decides nothing.

Besides copying facts it maintains the derived indexes (by_ref, latest_iteration, JOIN counters,
open-task count, tasks ended while paused); each update touches O(1) entries, except the rare
administrative resets (restart, rerun) which are linear once.
"""

from __future__ import annotations

from typing import Any, assert_never

from immutables import Map
from pyrsistent import pset

from orchestrator.domain import events as ev
from orchestrator.domain.definitions import JSON
from orchestrator.domain.evolve_tasks import (
    InvalidLog,
    _canceled,
    _completed,
    _completed_with_errors,
    _failed,
    _failure_permitted,
    _iterations_removed,
    _picked_up,
    _postponed,
    _progressed,
    _queued,
    _scheduled,
    _skipped,
    _t,
    copy_state,
)
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import WorkflowStatus

__all__ = ["InvalidLog", "evolve"]


def evolve(state: WorkflowState | None, event: ev.Event) -> WorkflowState:
    if isinstance(event, ev.WorkflowStarted):
        return _started(event)
    if state is None:
        raise InvalidLog(f"{type(event).__name__} before WorkflowStarted ({event.workflow_id})")
    # One copy of the state per event: every case stamps seq and updated_at in its own copy.
    # The frequent task events come first (the cases are disjoint classes: order is free).
    match event:
        case ev.TaskScheduled():
            return _scheduled(state, event)
        case ev.TaskCompleted():
            return _completed(state, event)
        case ev.TaskQueued():
            return _queued(state, event)
        case ev.TaskPickedUp():
            return _picked_up(state, event)
        case ev.TaskProgressed():
            return _progressed(state, event)
        case ev.TaskPostponed():
            return _postponed(state, event)
        case ev.TaskFailed():
            return _failed(state, event)
        case ev.TaskCompletedWithErrors():
            return _completed_with_errors(state, event)
        case ev.TaskFailurePermitted():
            return _failure_permitted(state, event)
        case ev.TaskSkipped():
            return _skipped(state, event)
        case ev.TaskCanceled():
            return _canceled(state, event)
        case ev.LoopIterationsRemoved():
            return _iterations_removed(state, event)
        case ev.WorkflowStarted():
            raise AssertionError("handled above")
        case ev.WorkflowRestarted():
            return _restarted(state, event)
        case ev.WorkflowRetried():
            return _stamped(state, event, retried_at=event.at, **_reopened())
        case ev.WorkflowRerun():
            return _rerun(state, event)
        case ev.WorkflowPaused():
            return _stamped(state, event, status=WorkflowStatus.PAUSED)
        case ev.WorkflowResumed():
            return _stamped(state, event, status=WorkflowStatus.RUNNING, unsettled=pset())
        case ev.WorkflowCompleted():
            return _ended(state, event, WorkflowStatus.COMPLETED, event.output, event.reason)
        case ev.WorkflowFailed():
            return _ended(
                state,
                event,
                event.status,
                event.output,
                event.reason,
                failed_task_id=event.failed_task_id,
                failure_workflow_id=event.failure_workflow_id,
            )
        case ev.WorkflowTerminated():
            return _ended(
                state,
                event,
                WorkflowStatus.TERMINATED,
                event.output,
                event.reason,
                failed_task_id=event.failed_task_id,
                failure_workflow_id=event.failure_workflow_id,
            )
        case ev.VariablesUpdated():
            return _stamped(state, event, variables={**state.variables, **event.variables})
        case _:
            assert_never(event)


def _stamped(state: WorkflowState, e: ev.Event, **changes: Any) -> WorkflowState:
    return copy_state(state, seq=e.seq, updated_at=e.at, **changes)


def _started(e: ev.WorkflowStarted) -> WorkflowState:
    return WorkflowState(
        workflow_id=e.workflow_id,
        root_workflow_id=e.root_workflow_id,
        definition=e.definition,
        status=WorkflowStatus.RUNNING,
        input=e.input,
        seq=e.seq,
        created_at=e.at,
        started_at=e.at,
        updated_at=e.at,
        correlation_id=e.correlation_id,
        priority=e.priority,
        task_to_domain=e.task_to_domain,
        parent_workflow_id=e.parent_workflow_id,
        parent_task_id=e.parent_task_id,
        idempotency_key=e.idempotency_key,
        variables=e.definition.variables,
    )


def _reopened() -> dict[str, Any]:
    """The changes that reopen an ended workflow (retry, restart, rerun)."""
    return {
        "status": WorkflowStatus.RUNNING,
        "reason": None,
        "ended_at": 0,
        "failed_task_id": None,
        "failure_workflow_id": None,
        "output": {},
    }


def _names_cleared() -> dict[str, Any]:
    """A rerun forgets the failed task names (Conductor's rerunWF); retry and restart keep
    them (its retry and restart leave the sets alone, so later ends add to them)."""
    return {"failed_ref_names": None, "failed_task_names": None}


def _restarted(state: WorkflowState, e: ev.WorkflowRestarted) -> WorkflowState:
    return _stamped(
        state,
        e,
        **_reopened(),
        definition=e.definition,
        input=e.input,
        correlation_id=e.correlation_id,
        generation=state.generation + 1,
        started_at=e.at,
        variables=e.definition.variables,
        open_count=0,
        by_ref=Map(),
        latest_iteration=Map(),
        join_waiting=Map(),
        awaited_by=Map(),
        unsettled=pset(),
    )


def _rerun(state: WorkflowState, e: ev.WorkflowRerun) -> WorkflowState:
    if not e.retired_listed:
        return _rerun_by_seq(state, e)
    retired = frozenset(e.retired_task_ids)
    kept = {ref: tid for ref, tid in state.by_ref.items() if tid not in retired}
    latest: dict[str, str] = {}  # definition ref -> newest kept task (unsuffixed loop refs)
    for task_id in kept.values():
        task = state.tasks[task_id]
        best = latest.get(task.definition_ref)
        if best is None or state.tasks[best].seq < task.seq:
            latest[task.definition_ref] = task_id
    newest = max(kept.values(), key=lambda tid: state.tasks[tid].seq, default=None)
    joins = {tid: n for tid, n in state.join_waiting.items() if tid not in retired}
    awaited = {r: tid for r, tid in state.awaited_by.items() if tid not in retired}
    return _stamped(
        state,
        e,
        **_reopened(),
        **_names_cleared(),
        input=e.input,
        generation=state.generation + 1,
        open_count=sum(1 for tid in kept.values() if not state.tasks[tid].status.is_terminal),
        by_ref=Map(kept),
        latest_iteration=Map(latest),
        join_waiting=Map(joins),
        awaited_by=Map(awaited),
        unsettled=pset(),
        last_task_id=newest,
    )


def _rerun_by_seq(state: WorkflowState, e: ev.WorkflowRerun) -> WorkflowState:
    """A rerun event written before `retired_task_ids` existed: the seq >= cut rule."""
    cut = _t(state, e.from_task_id).seq
    kept = {ref: tid for ref, tid in state.by_ref.items() if state.tasks[tid].seq < cut}
    latest = {r: tid for r, tid in state.latest_iteration.items() if state.tasks[tid].seq < cut}
    joins = {tid: n for tid, n in state.join_waiting.items() if state.tasks[tid].seq < cut}
    awaited = {r: tid for r, tid in state.awaited_by.items() if state.tasks[tid].seq < cut}
    return _stamped(
        state,
        e,
        **_reopened(),
        **_names_cleared(),
        input=e.input,
        generation=state.generation + 1,
        open_count=0,
        by_ref=Map(kept),
        latest_iteration=Map(latest),
        join_waiting=Map(joins),
        awaited_by=Map(awaited),
        unsettled=pset(),
    )


def _ended(
    state: WorkflowState,
    e: ev.WorkflowCompleted | ev.WorkflowFailed | ev.WorkflowTerminated,
    status: WorkflowStatus,
    output: JSON,
    reason: str | None,
    **changes: Any,
) -> WorkflowState:
    if e.failed_ref_names is not None:  # older events leave the names as they were
        changes["failed_ref_names"] = e.failed_ref_names
        changes["failed_task_names"] = e.failed_task_names or ()
    return _stamped(state, e, status=status, output=output, reason=reason, ended_at=e.at, **changes)
