"""The web UI: its pages, its static files (plain ES modules + CSS, no build) and /api/ui/queues.

Pages are static HTML shells; each loads one module from /ui/js/ that calls the REST API. The
files live in ``orchestrator/api/ui/`` (package data), so the UI works offline and ships with
the wheel. /api/ui/queues is the one endpoint made for the UI: Conductor's
/api/tasks/queue/sizes needs the task types up front and says nothing about workers, domain
queues or the task gate.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from psycopg.rows import dict_row

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.errors import not_found
from orchestrator.api.queue_lags import Queue, QueueLags
from orchestrator.api.queue_status import (
    BackgroundPresence,
    Poller,
    gate_status_cache,
    poller_rows,
    presence_of,
)
from orchestrator.api.task_subscription import worker_group
from orchestrator.kafka.admin import admin_client

router = APIRouter(tags=["ui"])
RtDep = Annotated[Runtime, Depends(runtime)]

UI_DIR = Path(__file__).parent / "ui"
RECENT_S = 300  # "polled recently": took a task in the last five minutes
KAFKA_TIMEOUT_S = 5.0
BRIDGE_CLIENT = "orchestrator-api:"  # client id prefix of the HTTP poll bridge's consumers
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate (ETag): a new release shows at once


def _page(name: str) -> FileResponse:
    return FileResponse(UI_DIR / name, media_type="text/html", headers=NO_CACHE)


@router.get("/", include_in_schema=False)
async def executions_page() -> FileResponse:
    return _page("index.html")


@router.get("/execution/{workflow_id}", include_in_schema=False)
async def execution_page(workflow_id: str) -> FileResponse:
    return _page("execution.html")


@router.get("/definitions", include_in_schema=False)
async def definitions_page() -> FileResponse:
    return _page("definitions.html")


@router.get("/definitions/workflow/{name}", include_in_schema=False)
async def workflow_definition_page(name: str) -> FileResponse:
    return _page("workflow-def.html")


@router.get("/queues", include_in_schema=False)
async def queues_page() -> FileResponse:
    return _page("queues.html")


_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@router.get("/ui/{path:path}", include_in_schema=False)
async def static_file(path: str) -> FileResponse:
    """A file under ui/; anything resolving outside it (``..``) is a 404, like a missing one."""
    target = (UI_DIR / path).resolve()
    if not target.is_relative_to(UI_DIR.resolve()) or not target.is_file():
        raise not_found(f"No such UI file: {path}")
    return FileResponse(target, media_type=_TYPES.get(target.suffix), headers=NO_CACHE)


# --- queues ---------------------------------------------------------------------------------


@router.get("/api/ui/queues")
async def queues(rt: RtDep, request: Request) -> dict[str, Any]:
    """Per task type: its queues (the default one and each domain's), their pending tasks and
    pollers, the task gate's counts when the type is gated, and who took a task recently.

    A queue's ``pending`` is its worker group's consumer lag (as /api/tasks/queue/sizes; None
    when Kafka cannot be read); ``pollers`` the workers that announced a poll of that queue on
    the presence topic (Kafka SDK workers and HTTP pollers alike), ``activePollers`` those
    within ``activeSeconds``; ``consumers`` the worker group's members now (the HTTP poll bridge
    is one member for all its HTTP pollers). A type's ``gate`` is its latest gate-status record
    (ADR 0006: ``held`` tasks wait in the gate and are not in ``pending``) or None when the type
    is not gated; ``recentWorkers`` the worker ids that started a task of that type in the last
    RECENT_S seconds, from the read model.
    """
    now = int(time.time() * 1000)
    async with rt.pool.connection() as conn:
        known = await _task_types(conn)
        recent = await _recent_workers(conn, now - RECENT_S * 1000)
    presence = presence_of(request.app)
    first = known | set(recent)
    (gates, gate_ok), lags = await asyncio.gather(
        asyncio.to_thread(_gates, request, rt),
        asyncio.to_thread(_pending, request, rt, first, _polls(presence, first)),
    )
    types = first | set(gates) | {t for t, _ in lags or {}}
    polls = _polls(presence, types)
    found = sorted(_queues(types, lags, polls), key=lambda q: (q[0], q[1] or ""))
    members = await asyncio.to_thread(_group_members, rt, found)
    window_ms = presence.window_ms if presence else rt.settings.active_worker_last_poll_secs * 1000
    rows = [
        {
            "taskType": t,
            "gate": gates.get(t),
            "recentWorkers": recent.get(t, []),
            "queues": [
                _queue_row(q, lags, polls, members, now, window_ms) for q in found if q[0] == t
            ],
        }
        for t in sorted(types)
    ]
    return {
        "recentSeconds": RECENT_S,
        "activeSeconds": window_ms // 1000,
        "presenceReady": bool(presence and presence.ready),
        "gateStatusAvailable": gate_ok,
        "types": rows,
    }


def _polls(presence: BackgroundPresence | None, types: set[str]) -> dict[str, list[Poller]]:
    return {t: presence.pollers(t) for t in types} if presence else {}


def _queues(
    types: set[str], lags: dict[Queue, int] | None, polls: dict[str, list[Poller]]
) -> set[Queue]:
    """Each type's default queue, every task topic found, every queue someone polls."""
    polled = {(t, d) for t, found in polls.items() for d, _, _ in found}
    return {(t, None) for t in types} | set(lags or {}) | polled


def _queue_row(
    queue: Queue,
    lags: dict[Queue, int] | None,
    polls: dict[str, list[Poller]],
    members: dict[Queue, dict[str, Any]],
    now: int,
    window_ms: int,
) -> dict[str, Any]:
    task_type, domain = queue
    pollers = poller_rows(polls.get(task_type, []), domain, now, window_ms)
    return {
        "domain": domain,
        "pending": None if lags is None else lags.get(queue, 0),
        "pollers": pollers,
        "activePollers": sum(1 for p in pollers if p["active"]),
        "consumers": members.get(queue, {"state": "UNKNOWN", "members": []}),
    }


def _pending(
    request: Request, rt: Runtime, types: set[str], polls: dict[str, list[Poller]]
) -> dict[Queue, int] | None:
    """Blocking: every queue's pending count; None (shown as unknown) when Kafka is down."""
    lags: QueueLags | None = getattr(request.app.state, "ui_queue_lags", None)
    if lags is None:
        lags = QueueLags(rt.settings, rt.settings.topic_prefix)
        request.app.state.ui_queue_lags = lags
    polled = {(t, d) for t, found in polls.items() for d, _, _ in found}
    try:
        return lags.get({(t, None) for t in types} | polled)
    except Exception:  # the page still shows the read model's part and the pollers
        return None


def _gates(request: Request, rt: Runtime) -> tuple[dict[str, dict[str, Any]], bool]:
    """Blocking: the gate's latest counts per task definition name, and whether they were read."""
    try:
        return gate_status_cache(request.app, rt.settings).get(), True
    except Exception:
        return {}, False


async def _task_types(conn: Any) -> set[str]:
    """Registered task definitions and every type ever dispatched to a worker topic."""
    cur = conn.cursor()
    await cur.execute("SELECT name FROM definitions WHERE kind = 'task'")
    names = {row[0] for row in await cur.fetchall()}
    # A loose index scan over tasks_type_status: one probe per distinct type, not per row.
    await cur.execute(
        """
        WITH RECURSIVE t(task_type) AS (
            (SELECT task_type FROM tasks ORDER BY task_type LIMIT 1)
            UNION ALL
            SELECT (SELECT task_type FROM tasks WHERE task_type > t.task_type
                    ORDER BY task_type LIMIT 1) FROM t WHERE t.task_type IS NOT NULL
        )
        SELECT t.task_type FROM t WHERE t.task_type IS NOT NULL AND EXISTS (
            SELECT 1 FROM tasks x WHERE x.task_type = t.task_type AND x.dispatched
              AND x.kind = 'SIMPLE')
        """
    )
    return names | {row[0] for row in await cur.fetchall()}


async def _recent_workers(conn: Any, since: int) -> dict[str, list[dict[str, Any]]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT task_type, worker_id, max(start_time) AS last, count(*) AS tasks FROM tasks "
        "WHERE update_time >= %s AND start_time >= %s AND worker_id IS NOT NULL "
        "AND kind = 'SIMPLE' GROUP BY task_type, worker_id ORDER BY task_type, last DESC",
        (since, since),
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in await cur.fetchall():
        found.setdefault(row["task_type"], []).append(
            {"workerId": row["worker_id"], "lastStartTime": row["last"], "tasks": row["tasks"]}
        )
    return found


def _group_members(rt: Runtime, queues: list[Queue]) -> dict[Queue, dict[str, Any]]:
    """Blocking: each worker group's state and members (Kafka's view of connected workers)."""
    if not queues:
        return {}
    groups = {worker_group(rt.settings.topic_prefix, t, d): (t, d) for t, d in queues}
    try:
        admin = admin_client(rt.settings, KAFKA_TIMEOUT_S)
        futures = admin.describe_consumer_groups(list(groups), request_timeout=KAFKA_TIMEOUT_S)
    except Exception:  # Kafka down: the page still shows the read model's part
        return {}
    out: dict[Queue, dict[str, Any]] = {}
    for group, future in futures.items():
        try:
            found = future.result(timeout=KAFKA_TIMEOUT_S)
        except Exception:
            continue
        members = [
            {
                "clientId": m.client_id,
                "host": m.host,
                "kind": "http-bridge" if m.client_id.startswith(BRIDGE_CLIENT) else "kafka",
            }
            for m in found.members
        ]
        out[groups[group]] = {"state": str(found.state.name), "members": members}
    return out
