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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Query
from psycopg.rows import dict_row
from pydantic import BaseModel

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.errors import ApiError, bad_request
from orchestrator.api.models import (
    TaskSearchResult,
    TaskSummaries,
    WorkflowSearchResult,
    WorkflowSummaries,
)
from orchestrator.api.openapi_errors import errors
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


# Repeated sort parameters are joined with ',' (as Spring does for Conductor).
@dataclass(frozen=True, slots=True)
class SearchParams:
    start: int
    size: int
    sort: list[str] | None
    freeText: str
    query: str | None


def search_params(
    start: Annotated[int, Query(ge=0)] = 0,
    size: Annotated[int, Query(ge=0, description=f"At most {MAX_SIZE}")] = 100,
    sort: Annotated[list[str] | None, Query(description="field[:ASC|DESC], ...")] = None,
    freeText: Annotated[str, Query()] = "*",
    query: Annotated[str | None, Query(description="Conductor's query grammar")] = None,
) -> SearchParams:
    """The parameters every search shares (one dependency: the same in /docs for all four)."""
    return SearchParams(start, size, sort, freeText, query)


Params = Annotated[SearchParams, Depends(search_params)]


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


@dataclass(frozen=True, slots=True)
class _Kind:
    """What differs between the workflow and the task searches."""

    fields: Any
    build: Callable[..., SearchSql]
    summary: Callable[[dict[str, Any]], dict[str, Any]]
    key: str  # the id column
    full_rows: str  # the complete rows of a page's ids (the search selects summary columns)
    full_view: Callable[[dict[str, Any]], BaseModel]


WORKFLOWS = _Kind(
    WORKFLOW_FIELDS,
    workflow_search,
    workflow_summary,
    "workflow_id",
    "SELECT * FROM workflows WHERE workflow_id = ANY(%s)",
    lambda row: workflow_view(row, None),  # without tasks, as Conductor
)
TASKS = _Kind(
    TASK_FIELDS,
    task_search,
    task_summary,
    "task_id",
    "SELECT t.*, w.workflow_type, w.correlation_id, w.priority FROM tasks t "
    "JOIN workflows w ON w.workflow_id = t.workflow_id WHERE t.task_id = ANY(%s)",
    lambda row: task_view(row, row),
)


async def _search(rt: Runtime, kind: _Kind, p: SearchParams) -> tuple[int, list[dict[str, Any]]]:
    """(totalHits, the page's rows); a malformed query or sort is the 400 the user sees."""
    if p.size > MAX_SIZE:
        raise bad_request(f"Cannot return more than {MAX_SIZE} results. Please use pagination.")
    try:
        node = parse_query(p.query, kind.fields)
        keys = parse_sort(",".join(p.sort or ()), kind.fields)
    except QueryError as exc:
        raise bad_request(str(exc)) from None
    return await _run(rt, kind.build(node, p.freeText, keys, p.start, p.size, COUNT_CAP))


async def _summaries(rt: Runtime, kind: _Kind, p: SearchParams) -> dict[str, Any]:
    total, rows = await _search(rt, kind, p)
    return {"totalHits": total, "results": [kind.summary(r) for r in rows]}


async def _full(rt: Runtime, kind: _Kind, p: SearchParams) -> dict[str, Any]:
    total, rows = await _search(rt, kind, p)
    ids = [r[kind.key] for r in rows]
    async with rt.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(kind.full_rows, (ids,))
        found = {r[kind.key]: r for r in await cur.fetchall()}
    results = [kind.full_view(found[i]).model_dump() for i in ids if i in found]
    return {"totalHits": total, "results": results}


def _route(path: str, name: str, kind: _Kind, full: bool, model: type, doc: str) -> None:
    answer = _full if full else _summaries

    async def search(rt: RtDep, params: Params) -> dict[str, Any]:
        return await answer(rt, kind, params)

    router.add_api_route(
        path,
        search,
        methods=["GET"],
        name=name,  # the operation id, as when these were four functions
        description=doc,
        response_model=model,
        responses=errors(400),
    )


_route(
    "/workflow/search",
    "search_workflows",
    WORKFLOWS,
    False,
    WorkflowSummaries,
    "SearchResult<WorkflowSummary>.",
)
_route(
    "/workflow/search-v2",
    "search_workflows_v2",
    WORKFLOWS,
    True,
    WorkflowSearchResult,
    "SearchResult<Workflow> (without tasks, as Conductor).",
)
_route("/tasks/search", "search_tasks", TASKS, False, TaskSummaries, "SearchResult<TaskSummary>.")
_route("/tasks/search-v2", "search_tasks_v2", TASKS, True, TaskSearchResult, "SearchResult<Task>.")
