"""Audit: a workflow's history, and its state as it was after any event (time travel).

Both read the read model's ``events`` table (the log as projected). The state at seq N is the
fold of events 1..N with the engine's own pure ``evolve`` — not a snapshot kept somewhere —
rendered like GET /workflow/{id}, plus ``seq``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.errors import ApiError, bad_request, not_found
from orchestrator.api.models import HistoryEntry, Workflow
from orchestrator.api.views import workflow_view
from orchestrator.replay import store
from orchestrator.replay.fold import Folded
from orchestrator.replay.history import Entry, event_from_entry
from orchestrator.replay.rows import current_task_rows, workflow_row

router = APIRouter(prefix="/workflow", tags=["audit"])
RtDep = Annotated[Runtime, Depends(runtime)]


class WorkflowAt(Workflow):
    """A Workflow as it was after event ``seq``."""

    seq: int


@router.get("/{workflow_id}/history", response_model=list[HistoryEntry])
async def get_history(rt: RtDep, workflow_id: str) -> list[dict[str, Any]]:
    """Every event of the execution in order: ``[{seq, type, at, actor, data}]``."""
    async with rt.pool.connection() as conn:
        entries = await store.history(conn, workflow_id)
    if not entries:
        raise not_found(f"No such workflow found by id: {workflow_id}")
    return [e.public() for e in entries]


@router.get("/{workflow_id}/state", response_model=WorkflowAt)
async def get_state_at(
    rt: RtDep,
    workflow_id: str,
    at: Annotated[int | None, Query(description="Event seq (default: the last one).")] = None,
) -> WorkflowAt:
    """The execution as it was right after event ``at``, folded from the stored events."""
    async with rt.pool.connection() as conn:
        last = await store.last_seq(conn, workflow_id)
        if last is None:
            raise not_found(f"No such workflow found by id: {workflow_id}")
        seq = last if at is None else at
        if not 1 <= seq <= last:
            raise bad_request(f"at must be between 1 and {last} (the last event), got {seq}")
        entries = await store.history(conn, workflow_id, seq)
    folded = _fold(workflow_id, entries, seq)
    assert folded.state is not None
    view = workflow_view(workflow_row(folded.state), current_task_rows(folded))
    return WorkflowAt(**view.model_dump(), seq=seq)


def _fold(workflow_id: str, entries: list[Entry], seq: int) -> Folded:
    if [e.seq for e in entries] != list(range(1, seq + 1)):
        missing = sorted(set(range(1, seq + 1)) - {e.seq for e in entries})
        raise ApiError(500, f"The history of {workflow_id} has gaps (missing seq {missing[:10]})")
    folded = Folded(workflow_id)
    for entry in entries:
        try:
            folded.apply(event_from_entry(entry))
        except Exception as exc:  # an unknown (newer) event type, or a history evolve refuses
            raise ApiError(
                500, f"Cannot fold event {entry.seq} ({entry.type}) of {workflow_id}: {exc}"
            ) from None
    return folded
