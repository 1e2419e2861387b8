"""/api/workflow/{id}: restart, retry, rerun, skiptask, remove.

As the other writes (routes_workflow.py): pre-checks on the read model give Conductor's 404 and
409 answers, the command goes to Kafka, and the answer waits (bounded) until the projection
shows its effect (an event after the one seen before; for skiptask the SKIPPED task) or the
engine refuses it (the engine is the authority: its reason and code in a 409, as a pre-check's).
Then restart/retry answer 204 (as Conductor, whose 2.x clients expect it), rerun the id as text,
skiptask 200; past the bound 202 (accepted, not visible yet).

``remove`` deletes nothing: history is the product. It records the workflow in
``workflow_removals`` (with who and when), which hides it from search, correlated and running
lists; GET /workflow/{id} and the history keep answering.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms
from orchestrator.api.errors import conflict, not_found
from orchestrator.api.openapi_errors import ACCEPTED, errors
from orchestrator.api.rejections import send_and_wait
from orchestrator.api.routes_workflow import COMMAND_WAIT_S, apply_command
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions_json import parse_workflow_def
from projections import queries

router = APIRouter(prefix="/workflow", tags=["workflow"])
RtDep = Annotated[Runtime, Depends(runtime)]

OPEN = ("RUNNING", "PAUSED")
RETRIABLE_TASK = ("FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED")


class RerunWorkflowRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reRunFromWorkflowId: str | None = None
    reRunFromTaskId: str | None = None
    workflowInput: dict[str, Any] | None = None
    taskInput: dict[str, Any] | None = None
    correlationId: str | None = None


class SkipTaskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    taskInput: dict[str, Any] | None = None
    taskOutput: dict[str, Any] | None = None


async def workflow_row(rt: Runtime, workflow_id: str) -> dict[str, Any]:
    async with rt.pool.connection() as conn:
        row = await queries.workflow(conn, workflow_id)
    if row is None:
        raise not_found(f"No such workflow found by id: {workflow_id}")
    return row


async def current_tasks(rt: Runtime, workflow_id: str) -> list[dict[str, Any]]:
    async with rt.pool.connection() as conn:
        return await queries.current_tasks(conn, workflow_id)


def must_be_terminal(row: dict[str, Any], action: str) -> None:
    if row["status"] in OPEN:
        raise conflict(
            f"Workflow {row['workflow_id']} is still {row['status']}: cannot {action} it "
            "(only a workflow that has ended can be)"
        )


async def restart_command(
    rt: Runtime, row: dict[str, Any], actor: str, use_latest: bool
) -> cmd.RestartWorkflow:
    """Pre-checks of a restart (409 while running, 404 for a COMPLETED workflow whose
    definition, the one the restart would run, is not restartable) and the command to send."""
    must_be_terminal(row, "restart")
    latest = None
    if use_latest:
        async with rt.pool.connection() as conn:
            found = await queries.definition(conn, "workflow", row["workflow_type"])
        latest = parse_workflow_def(found["body"]) if found is not None else None
    restartable = latest.restartable if latest else row["definition"].get("restartable", True)
    if restartable is False and row["status"] == "COMPLETED":
        raise not_found(
            f"Workflow: {row['workflow_type']}.{row['version']}/{row['workflow_id']}."
            f"{row['status']} is non-restartable"
        )
    return cmd.RestartWorkflow(
        workflow_id=row["workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        at=now_ms(),
        actor=actor,
        use_latest_definition=use_latest,
        definition=latest,
    )


async def retry_command(
    rt: Runtime, row: dict[str, Any], actor: str, resume_subworkflows: bool
) -> cmd.RetryWorkflow:
    must_be_terminal(row, "retry")
    tasks = await current_tasks(rt, row["workflow_id"])
    if not any(t["status"] in RETRIABLE_TASK and not t["retried"] for t in tasks):
        raise conflict(
            "There are no failed tasks! Use restart if you want to attempt entire workflow "
            "execution again."
        )
    return cmd.RetryWorkflow(
        workflow_id=row["workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        at=now_ms(),
        actor=actor,
        resume_subworkflow_tasks=resume_subworkflows,
    )


async def _apply(rt: Runtime, command: cmd.Command, row: dict[str, Any]) -> bool:
    # The workflow has ended: no event but one of an operation can follow the one seen.
    return await apply_command(rt, command, int(row["last_seq"]), COMMAND_WAIT_S)


_RESTARTED = {204: {"description": "Done and visible"}, **ACCEPTED, **errors(404, 409)}


@router.post("/{workflow_id}/restart", status_code=204, responses=_RESTARTED)
async def restart(
    rt: RtDep,
    request: Request,
    workflow_id: str,
    useLatestDefinitions: Annotated[bool, Query()] = False,
) -> Response:
    """Run an ended workflow again from its first task (a new generation; history is kept)."""
    row = await workflow_row(rt, workflow_id)
    command = await restart_command(rt, row, actor_of(request), useLatestDefinitions)
    return Response(status_code=204 if await _apply(rt, command, row) else 202)


@router.post("/{workflow_id}/retry", status_code=204, responses=_RESTARTED)
async def retry(
    rt: RtDep,
    request: Request,
    workflow_id: str,
    resumeSubworkflowTasks: Annotated[bool, Query()] = False,
) -> Response:
    """New attempts of the failed tasks of an ended workflow, which runs on from there."""
    row = await workflow_row(rt, workflow_id)
    command = await retry_command(rt, row, actor_of(request), resumeSubworkflowTasks)
    return Response(status_code=204 if await _apply(rt, command, row) else 202)


@router.post(
    "/{workflow_id}/rerun",
    response_class=PlainTextResponse,
    responses={
        200: {"description": "Done and visible: the id as text", "content": {"text/plain": {}}},
        **ACCEPTED,
        **errors(404, 409, 413, 503),
    },
)
async def rerun(
    rt: RtDep, request: Request, workflow_id: str, body: RerunWorkflowRequest
) -> Response:
    """Run again from a task (default: the first), optionally with new workflow/task input."""
    row = await workflow_row(rt, workflow_id)
    must_be_terminal(row, "rerun")
    # The latest attempts of the current run only: the engine reruns from nothing older.
    tasks = [t for t in await current_tasks(rt, workflow_id) if not t["retried"]]
    from_task = body.reRunFromTaskId or (tasks[0]["task_id"] if tasks else None)
    target: dict[str, Any] | None = row
    if from_task is not None and all(t["task_id"] != from_task for t in tasks):
        # A task of a sub-workflow (at any depth): rerun the child that owns it; the child
        # tells its parent, which reopens its SUB_WORKFLOW task (as Conductor's rerun does).
        target = await _descendant_owning(rt, row, from_task)
    if from_task is None or target is None:
        raise not_found(
            f"No task {body.reRunFromTaskId} among the latest attempts of {workflow_id}'s run "
            "or of its sub-workflows"
        )
    command = cmd.RerunWorkflow(
        workflow_id=target["workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        at=now_ms(),
        actor=actor_of(request),
        from_task_id=from_task,
        workflow_input=body.workflowInput if target is row else None,
        task_input=body.taskInput,
    )
    seen = await _apply(rt, command, target)
    return PlainTextResponse(workflow_id, status_code=200 if seen else 202)


async def _descendant_owning(
    rt: Runtime, row: dict[str, Any], task_id: str
) -> dict[str, Any] | None:
    """The workflow of `row`'s tree, below it, whose latest attempts include `task_id`."""
    async with rt.pool.connection() as conn:
        cursor = await conn.execute("SELECT workflow_id FROM tasks WHERE task_id = %s", (task_id,))
        found = await cursor.fetchone()
    if found is None:
        return None
    owner = await workflow_row(rt, found[0] if isinstance(found, tuple) else found["workflow_id"])
    ancestor: dict[str, Any] | None = owner
    while ancestor is not None and ancestor["workflow_id"] != row["workflow_id"]:
        parent = ancestor.get("parent_workflow_id")
        ancestor = await workflow_row(rt, parent) if parent else None
    if ancestor is None:
        return None  # not in this workflow's tree
    latest = [t for t in await current_tasks(rt, owner["workflow_id"]) if not t["retried"]]
    return owner if any(t["task_id"] == task_id for t in latest) else None


@router.put(
    "/{workflow_id}/skiptask/{task_reference_name}",
    response_class=Response,
    responses={
        200: {"description": "Skipped (no body)"},
        **ACCEPTED,
        **errors(404, 409, 413, 503),
    },
)
async def skip_task(
    rt: RtDep,
    request: Request,
    workflow_id: str,
    task_reference_name: str,
    body: Annotated[SkipTaskRequest | None, Body()] = None,
) -> Response:
    """Mark a task the running workflow has not reached yet as SKIPPED (as Conductor)."""
    row = await workflow_row(rt, workflow_id)
    if row["status"] != "RUNNING":
        raise conflict(f"Workflow {workflow_id} is {row['status']}: only a RUNNING one can skip")
    tasks = await current_tasks(rt, workflow_id)
    if any(t["ref"] == task_reference_name for t in tasks):
        raise conflict(
            f"Task {task_reference_name} of {workflow_id} was already reached: cannot skip it"
        )
    body = body or SkipTaskRequest()
    command = cmd.SkipTask(
        workflow_id=workflow_id,
        root_workflow_id=row["root_workflow_id"],
        at=now_ms(),
        actor=actor_of(request),
        task_ref=task_reference_name,
        input=body.taskInput or {},
        output=body.taskOutput or {},
    )
    return Response(status_code=200 if await _skipped(rt, command) else 202)


async def _skipped(rt: Runtime, command: cmd.SkipTask) -> bool:
    """Send the skip; True once the projection shows the task SKIPPED (other events of the
    running workflow say nothing about this command)."""

    async def applied() -> bool:
        async with rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM tasks WHERE workflow_id = %s AND ref = %s AND NOT retired "
                "AND status = 'SKIPPED'",
                (command.workflow_id, command.task_ref),
            )
            return await cur.fetchone() is not None

    return await send_and_wait(rt, command, applied, COMMAND_WAIT_S)


@router.delete("/{workflow_id}/remove", responses=errors(404, 409))
async def remove(
    rt: RtDep,
    request: Request,
    workflow_id: str,
    archiveWorkflow: Annotated[bool, Query()] = True,
) -> JSONResponse:
    """Hide an ended workflow from search and lists; nothing is deleted (see the module doc)."""
    row = await workflow_row(rt, workflow_id)
    if row["status"] in OPEN:
        raise conflict(f"Workflow {workflow_id} is {row['status']}: terminate it before removing")
    async with rt.pool.connection() as conn:
        await conn.execute(
            "INSERT INTO workflow_removals (workflow_id, removed_at, actor) VALUES (%s, %s, %s) "
            "ON CONFLICT (workflow_id) DO NOTHING",
            (workflow_id, now_ms(), actor_of(request)),
        )
    return JSONResponse(
        {
            "workflowId": workflow_id,
            "removed": True,
            "message": "Hidden from search, correlated and running lists. Nothing is deleted: "
            "GET /api/workflow/{id} and its history still answer.",
        }
    )
