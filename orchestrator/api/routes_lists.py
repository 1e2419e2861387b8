"""/api/workflow lists and the synchronous start.

- ``GET /workflow/{name}/correlated/{correlationId}?includeClosed&includeTasks`` and
  ``POST /workflow/{name}/correlated`` (body: correlation ids) -> Workflows.
- ``GET /workflow/running/{name}?version&startTime&endTime`` -> ids of the RUNNING or PAUSED
  workflows of that version (default 1, as Conductor's REST layer), started within
  [startTime, endTime] when given.
- ``POST /workflow/execute/{name}/{version}?requestId&waitUntilTaskRef&waitForSeconds`` starts
  the workflow (body: StartWorkflowRequest fields, name/version from the path) and answers once
  it has ended, or ``waitUntilTaskRef`` has been scheduled, or ``waitForSeconds`` passed, with
  the WorkflowRun as it is then (woken by the projector's NOTIFY, like every write).

Removed workflows (DELETE /workflow/{id}/remove) are left out of the lists.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from pydantic import ValidationError

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of
from orchestrator.api.errors import bad_request
from orchestrator.api.models import StartWorkflowRequest
from orchestrator.api.openapi_errors import ACCEPTED, errors
from orchestrator.api.routes_workflow import start_workflow
from orchestrator.api.views import workflow_view
from orchestrator.domain.problems import Problem
from projections import queries

router = APIRouter(prefix="/workflow", tags=["workflow"])
RtDep = Annotated[Runtime, Depends(runtime)]

_VISIBLE = "NOT EXISTS (SELECT 1 FROM workflow_removals r WHERE r.workflow_id = w.workflow_id)"
_OPEN = "w.status IN ('RUNNING', 'PAUSED')"
MAX_WAIT_S = 300


async def _correlated(
    rt: Runtime, name: str, correlation_ids: list[str], closed: bool, with_tasks: bool
) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in correlation_ids}
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            f"SELECT * FROM workflows w WHERE w.workflow_type = %s AND w.correlation_id = ANY(%s) "
            f"AND {_VISIBLE} {'' if closed else 'AND ' + _OPEN} "
            "ORDER BY w.start_time DESC, w.workflow_id",
            (name, correlation_ids),
        )
        for row in await cur.fetchall():
            tasks = await queries.current_tasks(conn, row["workflow_id"]) if with_tasks else None
            found[row["correlation_id"]].append(workflow_view(row, tasks).model_dump())
    return found


@router.get("/{name}/correlated/{correlation_id}")
async def correlated(
    rt: RtDep,
    name: str,
    correlation_id: str,
    includeClosed: Annotated[bool, Query()] = False,
    includeTasks: Annotated[bool, Query()] = False,
) -> list[dict[str, Any]]:
    found = await _correlated(rt, name, [correlation_id], includeClosed, includeTasks)
    return found[correlation_id]


@router.post("/{name}/correlated")
async def correlated_many(
    rt: RtDep,
    name: str,
    correlation_ids: Annotated[list[str], Body()],
    includeClosed: Annotated[bool, Query()] = False,
    includeTasks: Annotated[bool, Query()] = False,
) -> dict[str, list[dict[str, Any]]]:
    return await _correlated(
        rt, name, list(dict.fromkeys(correlation_ids)), includeClosed, includeTasks
    )


@router.get("/running/{name}")
async def running(
    rt: RtDep,
    name: str,
    version: Annotated[int, Query()] = 1,
    startTime: Annotated[int | None, Query()] = None,
    endTime: Annotated[int | None, Query()] = None,
) -> list[str]:
    sql = (
        f"SELECT w.workflow_id FROM workflows w WHERE w.workflow_type = %s AND w.version = %s "
        f"AND {_OPEN} AND {_VISIBLE}"
    )
    params: list[Any] = [name, version]
    if startTime:
        sql += " AND w.start_time >= %s"
        params.append(startTime)
    if endTime:
        sql += " AND w.start_time <= %s"
        params.append(endTime)
    async with rt.pool.connection() as conn:
        cur = await conn.execute(sql + " ORDER BY w.start_time, w.workflow_id", params)
        return [r[0] for r in await cur.fetchall()]


def _workflow_run(
    row: dict[str, Any], tasks: list[dict[str, Any]], request_id: str | None
) -> dict[str, Any]:
    view = workflow_view(row, tasks)
    return {
        "workflowId": view.workflowId,
        "requestId": request_id,
        "correlationId": view.correlationId,
        "input": view.input,
        "output": view.output,
        "status": view.status,
        "variables": view.variables,
        "tasks": [t.model_dump() for t in view.tasks],
        "priority": view.priority,
        "createTime": view.createTime,
        "updateTime": view.updateTime,
        "createdBy": None,
    }


@router.post(
    "/execute/{name}/{version}",
    # 202: started, but not visible in the read model within waitForSeconds (which may be 0)
    responses={**ACCEPTED, **errors(400, 404, 409, 413, 503)},
)
async def execute(
    rt: RtDep,
    request: Request,
    name: str,
    version: int,
    requestId: Annotated[str | None, Query()] = None,
    waitUntilTaskRef: Annotated[str | None, Query()] = None,
    waitForSeconds: Annotated[int, Query(ge=0, le=MAX_WAIT_S)] = 10,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> JSONResponse:
    fields = {k: v for k, v in (body or {}).items() if k not in ("name", "version")}
    try:
        req = StartWorkflowRequest(name=name, version=version, **fields)
    except ValidationError as exc:
        problems = [Problem("$." + ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise bad_request("Validation failed: the request is malformed", problems) from None
    started = await start_workflow(rt, req, actor_of(request))
    workflow_id = bytes(started.body).decode()
    state: dict[str, Any] = {}

    async def reached() -> bool:
        async with rt.pool.connection() as conn:
            row = await queries.workflow(conn, workflow_id)
            tasks = await queries.current_tasks(conn, workflow_id) if row else []
        state.update(row=row, tasks=tasks)
        if row is None:
            return False
        return row["status"] not in ("RUNNING", "PAUSED") or any(
            t["ref"] == waitUntilTaskRef for t in tasks
        )

    await rt.watch.wait_for(workflow_id, reached, float(waitForSeconds))
    if state.get("row") is None:  # not visible yet: accepted, like a start past its bound
        return JSONResponse({"workflowId": workflow_id, "requestId": requestId}, status_code=202)
    return JSONResponse(_workflow_run(state["row"], state["tasks"], requestId))
