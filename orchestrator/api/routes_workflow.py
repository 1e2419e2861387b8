"""/api/workflow: start, get, terminate, pause, resume.

Writes are commands on the commands topic (key = the root workflow id); the engine decides. To
give read-your-writes, a write waits (bounded) until the projector shows its effect (the row of
a started workflow; a higher ``last_seq`` and the status the command leads to) or until the
engine refuses it (rejections.py: 409 with the engine's reason and code, 404/400 for unknown or
malformed). If neither happens within the bound, the answer is 202: accepted, not yet visible.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from orchestrator.api import payload_guard
from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms, task_defs, under
from orchestrator.api.errors import bad_request, conflict, not_found
from orchestrator.api.health_checks import no_processor_warning, unserved_commands_partition
from orchestrator.api.models import StartWorkflowRequest, Workflow, WorkflowStatusView
from orchestrator.api.openapi_errors import ACCEPTED, errors
from orchestrator.api.rejections import send_and_wait
from orchestrator.api.views import status_view, workflow_view
from orchestrator.domain import commands as cmd
from orchestrator.domain.commands import IdempotencyStrategy
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.ids import workflow_id_for_idempotency_key
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.problems import DefinitionError
from orchestrator.domain.validation import load_workflow_def
from projections import queries

router = APIRouter(prefix="/workflow", tags=["workflow"])
RtDep = Annotated[Runtime, Depends(runtime)]

START_WAIT_S = 10.0
COMMAND_WAIT_S = 5.0


async def _progress(rt: Runtime, workflow_id: str) -> tuple[str, int] | None:
    async with rt.pool.connection() as conn:
        return await queries.workflow_progress(conn, workflow_id)


def any_status(status: str) -> bool:
    return True


async def apply_command(
    rt: Runtime,
    command: cmd.Command,
    seq_before: int,
    wait_s: float,
    *,
    reached: Callable[[str], bool] = any_status,
    accept: Collection[str] = (),
) -> bool:
    """Produce ``command``; True once the projection shows an event after ``seq_before`` and a
    status for which ``reached`` holds, False past ``wait_s``; an engine refusal raises its
    ApiError (unless its code is in ``accept``: a refusal meaning "already so")."""

    async def applied() -> bool:
        progress = await _progress(rt, command.workflow_id)
        return progress is not None and progress[1] > seq_before and reached(progress[0])

    return await send_and_wait(rt, command, applied, wait_s, accept)


# --- start ----------------------------------------------------------------------------------


async def _pin(rt: Runtime, req: StartWorkflowRequest) -> tuple[int, WorkflowDef | None]:
    """(version, inline definition): the version is resolved here, never left to "latest"."""
    if req.workflowDef is not None:
        async with rt.pool.connection() as conn:
            known = await task_defs(conn)
        try:
            definition = load_workflow_def(req.workflowDef, known.get)
        except DefinitionError as exc:
            problems = under("$.workflowDef", exc.problems)
            raise bad_request("Invalid inline workflowDef", problems) from None
        return definition.version, definition
    async with rt.pool.connection() as conn:
        row = await queries.definition(conn, "workflow", req.name, req.version)
    if row is None:
        shown = "" if req.version is None else f" and version {req.version}"
        raise not_found(f"No such workflow defined. name={req.name}{shown}")
    return int(row["version"]), None


async def start_workflow(rt: Runtime, req: StartWorkflowRequest, actor: str) -> Response:
    version, inline = await _pin(rt, req)
    name = inline.name if inline is not None else req.name
    key = req.idempotencyKey
    workflow_id = workflow_id_for_idempotency_key(name, key) if key else str(uuid.uuid4())
    existing = await _progress(rt, workflow_id) if key else None
    strategy = req.idempotencyStrategy
    if existing is not None:
        status = existing[0]
        if strategy is IdempotencyStrategy.RETURN_EXISTING:
            return PlainTextResponse(workflow_id)
        if strategy is IdempotencyStrategy.FAIL or status in ("RUNNING", "PAUSED"):
            raise conflict(
                f"A workflow with idempotencyKey {key} already exists: {workflow_id} ({status})"
            )
    command = cmd.StartWorkflow(
        workflow_id=workflow_id,
        at=now_ms(),
        actor=actor,
        name=name,
        version=version,
        definition=inline,
        input=req.input,
        correlation_id=req.correlationId,
        priority=req.priority,
        task_to_domain=req.taskToDomain,
        idempotency_key=key,
        idempotency_strategy=req.idempotencyStrategy,
    )
    payload_guard.check(rt, command)  # 413 at once for an input over its maximum
    # A duplicate the projection did not show yet is refused by the engine (ALREADY_EXISTS):
    # for RETURN_EXISTING that is the answer, the existing id.
    same = [RejectionCode.ALREADY_EXISTS] if strategy is IdempotencyStrategy.RETURN_EXISTING else []
    # No live processor on its partition: durable in Kafka all the same, answered at once (202)
    # rather than after the whole wait, with a Warning saying why (docs/operations.md).
    unserved = unserved_commands_partition(rt, workflow_id)
    wait_s = START_WAIT_S if unserved is None else 0.0
    seen = await apply_command(rt, command, existing[1] if existing else 0, wait_s, accept=same)
    response = PlainTextResponse(workflow_id, status_code=200 if seen else 202)
    if unserved is not None:
        response.headers["Warning"] = no_processor_warning(rt, unserved)
    return response


_STARTED = {
    200: {"description": "Started and visible: the id as text", "content": {"text/plain": {}}},
    **ACCEPTED,
    202: {
        "description": "Accepted (durable in Kafka), not visible in the read model yet: the id "
        "as text. Answered at once, with a Warning header, when no live processor serves the "
        "workflow's partition (it starts once one takes the partition over)",
        "headers": {"Warning": {"schema": {"type": "string"}, "required": False}},
    },
    **errors(400, 404, 409, 413, 503),
}


@router.post("", response_class=PlainTextResponse, responses=_STARTED)
async def start(rt: RtDep, request: Request, body: StartWorkflowRequest) -> Response:
    """Start a workflow (StartWorkflowRequest); returns its id as text."""
    return await start_workflow(rt, body, actor_of(request))


@router.post("/{name}", response_class=PlainTextResponse, responses=_STARTED)
async def start_by_name(
    rt: RtDep,
    request: Request,
    name: str,
    version: Annotated[int | None, Query()] = None,
    correlationId: Annotated[str | None, Query()] = None,
    priority: Annotated[int, Query(ge=0, le=99)] = 0,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    """Start the latest (or given) version of ``name``; the body is the workflow input."""
    req = StartWorkflowRequest(
        name=name,
        version=version,
        correlationId=correlationId,
        priority=priority,
        input=body or {},
    )
    return await start_workflow(rt, req, actor_of(request))


# --- read -----------------------------------------------------------------------------------


async def _row(
    rt: Runtime, workflow_id: str, with_tasks: bool
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    async with rt.pool.connection() as conn:
        row = await queries.workflow(conn, workflow_id)
        if row is None:
            raise not_found(f"No such workflow found by id: {workflow_id}")
        tasks = await queries.current_tasks(conn, workflow_id) if with_tasks else None
    return row, tasks


@router.get("/{workflow_id}", response_model=Workflow, responses=errors(404))
async def get_workflow(
    rt: RtDep, workflow_id: str, includeTasks: Annotated[bool, Query()] = True
) -> Workflow:
    row, tasks = await _row(rt, workflow_id, includeTasks)
    return workflow_view(row, tasks)


@router.get("/{workflow_id}/status", response_model=WorkflowStatusView, responses=errors(404))
async def get_status(rt: RtDep, workflow_id: str) -> WorkflowStatusView:
    row, _ = await _row(rt, workflow_id, False)
    return status_view(row)


# --- commands on one workflow ---------------------------------------------------------------


# What each command leads to, and the engine refusals that mean "already so".
REACHES: dict[str, tuple[Callable[[str], bool], Collection[str]]] = {
    "terminate": (lambda status: status == "TERMINATED", ()),
    "pause": (lambda status: status == "PAUSED", (RejectionCode.NOT_RUNNING,)),
    "resume": (lambda status: status != "PAUSED", ()),
}


async def _command(
    rt: Runtime, request: Request, workflow_id: str, kind: str, **fields: Any
) -> Response:
    row, _ = await _row(rt, workflow_id, False)
    status = row["status"]
    if status not in ("RUNNING", "PAUSED"):
        raise conflict(f"Workflow {workflow_id} is in terminal state {status}: cannot {kind} it")
    if kind == "pause" and status == "PAUSED":
        return Response(status_code=200)  # already there: nothing to do
    if kind == "resume" and status != "PAUSED":
        raise conflict(f"The workflow {workflow_id} is not PAUSED so cannot resume")
    make = {
        "terminate": cmd.TerminateWorkflow,
        "pause": cmd.PauseWorkflow,
        "resume": cmd.ResumeWorkflow,
    }[kind]
    command = make(
        workflow_id=workflow_id,
        root_workflow_id=row["root_workflow_id"],
        at=now_ms(),
        actor=actor_of(request),
        **fields,
    )
    reached, accept = REACHES[kind]
    seen = await apply_command(
        rt, command, int(row["last_seq"]), COMMAND_WAIT_S, reached=reached, accept=accept
    )
    return Response(status_code=200 if seen else 202)


_DONE = {200: {"description": "Done and visible (no body)"}, **ACCEPTED, **errors(404, 409)}


@router.delete("/{workflow_id}", response_class=Response, responses=_DONE)
async def terminate(
    rt: RtDep, request: Request, workflow_id: str, reason: Annotated[str, Query()] = ""
) -> Response:
    """Terminate a running or paused workflow."""
    return await _command(rt, request, workflow_id, "terminate", reason=reason)


@router.put("/{workflow_id}/pause", response_class=Response, responses=_DONE)
async def pause(rt: RtDep, request: Request, workflow_id: str) -> Response:
    """Pause a running workflow (200 if it already is paused; 409 if it has ended)."""
    return await _command(rt, request, workflow_id, "pause")


@router.put("/{workflow_id}/resume", response_class=Response, responses=_DONE)
async def resume(rt: RtDep, request: Request, workflow_id: str) -> Response:
    """Resume a paused workflow (409 if it is not paused)."""
    return await _command(rt, request, workflow_id, "resume")
