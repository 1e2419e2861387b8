"""Search: GET /api/workflow/search[-v2] and /api/tasks/search[-v2] (Conductor's grammar).

``query`` is parsed and translated to parameterised SQL (orchestrator/api/search/); a malformed
query or sort is a 400 naming the position where it broke. ``freeText`` is PostgreSQL full-text
search (``websearch_to_tsquery`` over the ``search_text`` tsvector of input and output: words,
"quoted phrases", ``or``, ``-word``), or an exact workflow id / correlation id; ``*`` = all.
Workflows removed with DELETE /workflow/{id}/remove are left out.

``totalHits`` is exact up to COUNT_CAP and COUNT_CAP beyond (as Elasticsearch caps its hit
count), so a broad search over millions of rows does not count them all on every page.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query
from psycopg.rows import dict_row

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.errors import ApiError, bad_request
from orchestrator.api.models import (
    TaskSearchResult,
    TaskSummaries,
    WorkflowSearchResult,
    WorkflowSummaries,
)
from orchestrator.api.search import (
    TASK_FIELDS,
    WORKFLOW_FIELDS,
    QueryError,
    SearchSql,
    parse_query,
    parse_sort,
    task_search,
    workflow_search,
)
from orchestrator.api.search.summaries import task_summary, workflow_summary
from orchestrator.api.views import task_view, workflow_view

router = APIRouter(tags=["search"])
RtDep = Annotated[Runtime, Depends(runtime)]

MAX_SIZE = 5000  # Conductor's limit: "Cannot return more than 5000 workflows"
COUNT_CAP = 10_000
STATEMENT_TIMEOUT = "10s"

Start = Annotated[int, Query(ge=0)]
Size = Annotated[int, Query(ge=0)]
# Repeated sort parameters are joined with ',' (as Spring does for Conductor).
Sort = Annotated[list[str] | None, Query()]
FreeText = Annotated[str, Query()]
Text = Annotated[str | None, Query()]


async def _run(rt: Runtime, statements: SearchSql) -> tuple[int, list[dict[str, Any]]]:
    async with rt.pool.connection() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
        cur = conn.cursor(row_factory=dict_row)
        try:
            await cur.execute(statements.count, statements.count_params)
            total = (await cur.fetchone() or {"count": 0})["count"]
            await cur.execute(statements.page, statements.page_params)
            rows = await cur.fetchall()
        except psycopg.errors.QueryCanceled:
            raise ApiError(503, "The search took too long: narrow the query") from None
    return int(total), rows


def _plan(
    kind: str, start: int, size: int, sort: list[str] | None, free: str, query: str | None
) -> SearchSql:
    """Parse and translate, or raise the 400 the user should see."""
    if size > MAX_SIZE:
        raise bad_request(f"Cannot return more than {MAX_SIZE} results. Please use pagination.")
    fields = WORKFLOW_FIELDS if kind == "workflow" else TASK_FIELDS
    build = workflow_search if kind == "workflow" else task_search
    try:
        node = parse_query(query, fields)
        keys = parse_sort(",".join(sort or ()), fields)
    except QueryError as exc:
        raise bad_request(str(exc)) from None
    return build(node, free, keys, start, size, COUNT_CAP)


@router.get("/workflow/search", response_model=WorkflowSummaries)
async def search_workflows(
    rt: RtDep,
    start: Start = 0,
    size: Size = 100,
    sort: Sort = None,
    freeText: FreeText = "*",
    query: Text = None,
) -> dict[str, Any]:
    """SearchResult<WorkflowSummary>."""
    total, rows = await _run(rt, _plan("workflow", start, size, sort, freeText, query))
    return {"totalHits": total, "results": [workflow_summary(r) for r in rows]}


@router.get("/workflow/search-v2", response_model=WorkflowSearchResult)
async def search_workflows_v2(
    rt: RtDep,
    start: Start = 0,
    size: Size = 100,
    sort: Sort = None,
    freeText: FreeText = "*",
    query: Text = None,
) -> dict[str, Any]:
    """SearchResult<Workflow> (without tasks, as Conductor)."""
    total, rows = await _run(rt, _plan("workflow", start, size, sort, freeText, query))
    ids = [r["workflow_id"] for r in rows]
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM workflows WHERE workflow_id = ANY(%s)", (ids,))
        full = {r["workflow_id"]: r for r in await cur.fetchall()}
    results = [workflow_view(full[i], None).model_dump() for i in ids if i in full]
    return {"totalHits": total, "results": results}


@router.get("/tasks/search", response_model=TaskSummaries)
async def search_tasks(
    rt: RtDep,
    start: Start = 0,
    size: Size = 100,
    sort: Sort = None,
    freeText: FreeText = "*",
    query: Text = None,
) -> dict[str, Any]:
    """SearchResult<TaskSummary>."""
    total, rows = await _run(rt, _plan("task", start, size, sort, freeText, query))
    return {"totalHits": total, "results": [task_summary(r) for r in rows]}


@router.get("/tasks/search-v2", response_model=TaskSearchResult)
async def search_tasks_v2(
    rt: RtDep,
    start: Start = 0,
    size: Size = 100,
    sort: Sort = None,
    freeText: FreeText = "*",
    query: Text = None,
) -> dict[str, Any]:
    """SearchResult<Task>."""
    total, rows = await _run(rt, _plan("task", start, size, sort, freeText, query))
    ids = [r["task_id"] for r in rows]
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT t.*, w.workflow_type, w.correlation_id, w.priority FROM tasks t "
            "JOIN workflows w ON w.workflow_id = t.workflow_id WHERE t.task_id = ANY(%s)",
            (ids,),
        )
        full = {r["task_id"]: r for r in await cur.fetchall()}
    results = [task_view(full[i], full[i]).model_dump() for i in ids if i in full]
    return {"totalHits": total, "results": results}
