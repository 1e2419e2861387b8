"""/api/workflow: start, get, terminate, pause, resume.

Writes are commands on the commands topic (key = the root workflow id); the engine decides. To
give read-your-writes, a write waits (bounded) until the projector shows its effect: the row of
a started workflow, a higher ``last_seq`` after a command. If the projection is slower than the
bound (or the engine rejected the command), the answer is 202 instead of 200: accepted, not
yet visible.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms, task_defs, under
from orchestrator.api.errors import bad_request, conflict, not_found
from orchestrator.api.models import StartWorkflowRequest, Workflow, WorkflowStatusView
from orchestrator.api.views import status_view, workflow_view
from orchestrator.domain import commands as cmd
from orchestrator.domain.commands import IdempotencyStrategy
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.ids import workflow_id_for_idempotency_key
from orchestrator.domain.problems import DefinitionError
from orchestrator.domain.validation import load_workflow_def
from projections import queries

router = APIRouter(prefix="/workflow", tags=["workflow"])
RtDep = Annotated[Runtime, Depends(runtime)]

START_WAIT_S = 10.0
COMMAND_WAIT_S = 5.0


async def _send(rt: Runtime, command: cmd.Command) -> None:
    value = rt.wire.encode_command(command, command_id=str(uuid.uuid4()))
    await rt.producer.send(rt.topics.commands, command.root, value)


async def _progress(rt: Runtime, workflow_id: str) -> tuple[str, int] | None:
    async with rt.pool.connection() as conn:
        return await queries.workflow_progress(conn, workflow_id)


async def _send_and_wait(rt: Runtime, command: cmd.Command, seq_before: int, wait_s: float) -> bool:
    """Produce ``command``; True once the projection shows an event after ``seq_before``."""

    async def advanced() -> bool:
        progress = await _progress(rt, command.workflow_id)
        return progress is not None and progress[1] > seq_before

    return await rt.watch.wait_for(
        command.workflow_id, advanced, wait_s, action=lambda: _send(rt, command)
    )


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
    if existing is not None:
        status = existing[0]
        strategy = req.idempotencyStrategy
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
    seen = await _send_and_wait(rt, command, existing[1] if existing else 0, START_WAIT_S)
    return PlainTextResponse(workflow_id, status_code=200 if seen else 202)


@router.post("", response_class=PlainTextResponse)
async def start(rt: RtDep, request: Request, body: StartWorkflowRequest) -> Response:
    """Start a workflow (StartWorkflowRequest); returns its id as text."""
    return await start_workflow(rt, body, actor_of(request))


@router.post("/{name}", response_class=PlainTextResponse)
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


@router.get("/{workflow_id}", response_model=Workflow)
async def get_workflow(
    rt: RtDep, workflow_id: str, includeTasks: Annotated[bool, Query()] = True
) -> Workflow:
    row, tasks = await _row(rt, workflow_id, includeTasks)
    return workflow_view(row, tasks)


@router.get("/{workflow_id}/status", response_model=WorkflowStatusView)
async def get_status(rt: RtDep, workflow_id: str) -> WorkflowStatusView:
    row, _ = await _row(rt, workflow_id, False)
    return status_view(row)


# --- commands on one workflow ---------------------------------------------------------------


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
    seen = await _send_and_wait(rt, command, int(row["last_seq"]), COMMAND_WAIT_S)
    return Response(status_code=200 if seen else 202)


@router.delete("/{workflow_id}")
async def terminate(
    rt: RtDep, request: Request, workflow_id: str, reason: Annotated[str, Query()] = ""
) -> Response:
    """Terminate a running or paused workflow."""
    return await _command(rt, request, workflow_id, "terminate", reason=reason)


@router.put("/{workflow_id}/pause")
async def pause(rt: RtDep, request: Request, workflow_id: str) -> Response:
    return await _command(rt, request, workflow_id, "pause")


@router.put("/{workflow_id}/resume")
async def resume(rt: RtDep, request: Request, workflow_id: str) -> Response:
    return await _command(rt, request, workflow_id, "resume")
