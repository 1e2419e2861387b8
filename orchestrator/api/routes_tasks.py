"""/api/tasks: Conductor's worker protocol over HTTP, served from the Kafka task topics.

Polls go through the ``TaskBridge`` (task_bridge.py); results become ``ReportTaskResult``
commands (``UpdateTaskByRef`` for the by-reference form) on the commands topic, keyed by the
root workflow id; reads come from the Postgres read model. What the official conductor-python
SDK (2.0.0) calls: batch poll, ``POST /tasks/update-v2`` (falls back to ``POST /tasks`` on 404),
``POST /tasks`` for lease-extension heartbeats (IN_PROGRESS, ``extendLease``).

The two hot routes, the batch poll and ``POST /tasks``, are answered in their well-formed case by
``fast_poll.py`` and ``fast_update.py`` before FastAPI's router (issue #18); the routes here
answer everything else (and document them in the OpenAPI schema).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from orchestrator.api import payload_guard
from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import now_ms, reporter_actor_of, worker_actor_of
from orchestrator.api.errors import bad_request, not_found
from orchestrator.api.models import Task
from orchestrator.api.openapi_errors import errors
from orchestrator.api.payload_guard import policy_of
from orchestrator.api.task_backlog import queue_sizes
from orchestrator.api.task_bridge import SINGLE_POLL_WAIT_MS, TaskBridge
from orchestrator.api.task_json import WORKER_STATUSES, TaskResultBody
from orchestrator.api.views import task_view
from orchestrator.domain import commands as cmd
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.limits import PayloadKind, PayloadTooLarge

router = APIRouter(prefix="/tasks", tags=["tasks"])
RtDep = Annotated[Runtime, Depends(runtime)]
MAX_POLL_TIMEOUT_MS = 60_000
MAX_BATCH = 1000


def task_bridge(request: Request) -> TaskBridge:
    bridge: TaskBridge = request.app.state.task_bridge
    return bridge


BridgeDep = Annotated[TaskBridge, Depends(task_bridge)]


# --- polling --------------------------------------------------------------------------------


@router.get("/poll/batch/{taskType}")
async def batch_poll(
    bridge: BridgeDep,
    request: Request,
    taskType: str,
    workerid: Annotated[str | None, Query()] = None,
    domain: Annotated[str | None, Query()] = None,
    count: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 1,
    timeout: Annotated[int, Query(ge=0, le=MAX_POLL_TIMEOUT_MS)] = 100,
) -> list[dict[str, Any]]:
    """Long poll: wait up to ``timeout`` ms for up to ``count`` tasks ([] when none)."""
    return await bridge.poll(
        taskType, domain, workerid, count, timeout, actor=worker_actor_of(request)
    )


NO_TASK: dict[int | str, dict[str, Any]] = {204: {"description": "No task to hand out"}}


@router.get("/poll/{taskType}", responses=NO_TASK)
async def poll(
    bridge: BridgeDep,
    request: Request,
    taskType: str,
    workerid: Annotated[str | None, Query()] = None,
    domain: Annotated[str | None, Query()] = None,
) -> Response:
    """One task (Conductor Task JSON), or 204 when there is none."""
    actor = worker_actor_of(request)
    tasks = await bridge.poll(taskType, domain, workerid, 1, SINGLE_POLL_WAIT_MS, actor=actor)
    return JSONResponse(tasks[0]) if tasks else Response(status_code=204)


# --- results --------------------------------------------------------------------------------


async def _root_of(rt: Runtime, bridge: TaskBridge, task_id: str, workflow_id: str) -> str:
    """The Kafka key of a report: the root workflow id (a child's reports go to its root)."""
    handed = bridge.handed_out(task_id)
    if handed is not None:
        return handed.root_workflow_id
    async with rt.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT root_workflow_id FROM workflows WHERE workflow_id = %s", (workflow_id,)
        )
        row = await cur.fetchone()
    # Unknown to the read model (not projected yet): a top-level workflow is its own root.
    return str(row[0]) if row is not None and row[0] else workflow_id


async def _send(rt: Runtime, command: cmd.Command) -> None:
    """413 for a payload over its maximum, 503 when it cannot be stored (payload_guard)."""
    await payload_guard.produce(rt, command, str(uuid.uuid4()))


def _worker_status(status: TaskStatus) -> TaskStatus:
    if status not in WORKER_STATUSES:
        allowed = ", ".join(s.value for s in WORKER_STATUSES)
        raise bad_request(f"A worker cannot set status {status.value}: use one of {allowed}")
    return status


async def report(rt: Runtime, bridge: TaskBridge, actor: str, body: TaskResultBody) -> None:
    """A worker's TaskResult as a ReportTaskResult command (also api/fast_update.py's)."""
    root = await _root_of(rt, bridge, body.taskId, body.workflowInstanceId)
    if body.extendLease:  # Conductor's extendLease: only the lease, whatever else was sent
        command = cmd.ReportTaskResult(
            workflow_id=body.workflowInstanceId,
            root_workflow_id=root,
            at=now_ms(),
            actor=actor,
            task_id=body.taskId,
            status=TaskStatus.IN_PROGRESS,
            worker_id=body.workerId,
            extend_lease=True,
        )
    else:
        command = cmd.ReportTaskResult(
            workflow_id=body.workflowInstanceId,
            root_workflow_id=root,
            at=now_ms(),
            actor=actor,
            task_id=body.taskId,
            status=_worker_status(body.status),
            output=body.outputData or {},
            reason=body.reasonForIncompletion,
            logs=body.log_lines(),
            callback_after_seconds=body.callbackAfterSeconds or 0,
            worker_id=body.workerId,
        )
    if command.output:
        try:
            policy_of(rt).check(
                PayloadKind.TASK_OUTPUT, command.output, f"The output of task {body.taskId}"
            )
        except PayloadTooLarge as exc:
            # Conductor fails the task (FAILED_WITH_TERMINAL_ERROR, output emptied); the worker
            # hears why, too.
            failed = dataclasses.replace(
                command, status=TaskStatus.FAILED_WITH_TERMINAL_ERROR, output={}, reason=str(exc)
            )
            await _send(rt, failed)
            raise payload_guard.too_large(
                exc, f"; task {body.taskId} was failed (FAILED_WITH_TERMINAL_ERROR)"
            ) from None
    await _send(rt, command)


@router.post("", response_class=PlainTextResponse, responses=errors(400, 413, 503))
async def update_task(
    rt: RtDep, bridge: BridgeDep, request: Request, body: TaskResultBody
) -> PlainTextResponse:
    """A worker's TaskResult -> ReportTaskResult; answers the task id as text (as Conductor)."""
    await report(rt, bridge, worker_actor_of(request), body)
    return PlainTextResponse(body.taskId)


@router.post("/update-v2", responses={**NO_TASK, **errors(400, 413, 503)})
async def update_task_v2(
    rt: RtDep, bridge: BridgeDep, request: Request, body: TaskResultBody
) -> Response:
    """Report, then hand the same worker its next task of that queue at once (204: none)."""
    await report(rt, bridge, worker_actor_of(request), body)
    queue = await _queue_of(rt, bridge, body.taskId)
    if queue is None:
        return Response(status_code=204)
    actor = worker_actor_of(request)
    tasks = await bridge.poll(queue[0], queue[1], body.workerId, 1, 0, actor=actor)
    return JSONResponse(tasks[0]) if tasks else Response(status_code=204)


async def _queue_of(rt: Runtime, bridge: TaskBridge, task_id: str) -> tuple[str, str | None] | None:
    handed = bridge.handed_out(task_id)
    if handed is not None:
        return handed.task_type, handed.domain
    async with rt.pool.connection() as conn:
        cur = await conn.execute("SELECT task_type FROM tasks WHERE task_id = %s", (task_id,))
        row = await cur.fetchone()
    return None if row is None else (str(row[0]), None)


@router.post(
    "/{workflowId}/{taskRefName}/{status}",
    response_class=PlainTextResponse,
    responses=errors(400, 404, 413, 503),
)
async def update_task_by_ref(
    rt: RtDep,
    request: Request,
    workflowId: str,
    taskRefName: str,
    status: TaskStatus,
    workerid: Annotated[str | None, Query()] = None,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> PlainTextResponse:
    """Complete/fail the open task ``taskRefName`` (WAIT, HUMAN, ...); body = its output."""
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT root_workflow_id FROM workflows WHERE workflow_id = %s", (workflowId,)
        )
        workflow = await cur.fetchone()
        if workflow is None:
            raise not_found(f"No such workflow found by id: {workflowId}")
        await cur.execute(
            "SELECT task_id FROM tasks WHERE workflow_id = %s AND ref = %s AND NOT retired"
            " AND status IN ('SCHEDULED', 'IN_PROGRESS') ORDER BY seq DESC LIMIT 1",
            (workflowId, taskRefName),
        )
        task = await cur.fetchone()
    if task is None:
        raise not_found(f"Found no running task {taskRefName} of workflow {workflowId} to update")
    command = cmd.UpdateTaskByRef(
        workflow_id=workflowId,
        root_workflow_id=workflow["root_workflow_id"] or "",
        at=now_ms(),
        actor=reporter_actor_of(request),
        task_ref=taskRefName,
        status=_worker_status(status),
        output=body or {},
        worker_id=workerid,
    )
    await _send(rt, command)
    return PlainTextResponse(task["task_id"])


# --- reads ----------------------------------------------------------------------------------


@router.get("/queue/sizes")
async def sizes(
    rt: RtDep, taskType: Annotated[list[Annotated[str, Field(min_length=1)]] | None, Query()] = None
) -> dict[str, int]:
    """``{taskType: pending tasks}`` from the worker groups' consumer lag."""
    return await asyncio.to_thread(queue_sizes, rt.settings, taskType or [])


class TaskExecLog(BaseModel):
    log: str
    taskId: str
    createdTime: int


TASK_LOGS = (
    "SELECT e.at, e.data->'logs' AS logs FROM tasks t JOIN events e "
    "ON e.workflow_id = t.workflow_id AND e.data->>'task_id' = t.task_id "
    "WHERE t.task_id = %s AND jsonb_typeof(e.data->'logs') = 'array' ORDER BY e.seq"
)


@router.get("/{taskId}/log", response_model=list[TaskExecLog], responses=errors(404))
async def get_task_logs(rt: RtDep, taskId: str) -> list[dict[str, Any]]:
    """The log lines a worker sent with its progress and result reports, oldest first, each
    with the time of the report that carried it (Conductor's TaskExecLog)."""
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT 1 FROM tasks WHERE task_id = %s", (taskId,))
        if await cur.fetchone() is None:
            raise not_found(f"No such task found by id: {taskId}")
        await cur.execute(TASK_LOGS, (taskId,))
        rows = await cur.fetchall()
    return [
        {"log": str(line), "taskId": taskId, "createdTime": row["at"]}
        for row in rows
        for line in row["logs"] or ()
    ]


@router.get("/{taskId}", response_model=Task)
async def get_task(rt: RtDep, taskId: str) -> dict[str, Any]:
    """One task attempt from the read model (Conductor's Task JSON)."""
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM tasks WHERE task_id = %s", (taskId,))
        row = await cur.fetchone()
        if row is None:
            raise not_found(f"No such task found by id: {taskId}")
        await cur.execute("SELECT * FROM workflows WHERE workflow_id = %s", (row["workflow_id"],))
        workflow = await cur.fetchone()
    if workflow is None:  # pragma: no cover - a task row is written with its workflow's
        raise not_found(f"No such task found by id: {taskId}")
    return task_view(row, workflow).model_dump()
