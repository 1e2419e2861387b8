"""Small helpers the routes share: who is calling, what time it is, the task-def lookup."""

from __future__ import annotations

import time

from fastapi import Request
from psycopg import AsyncConnection

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_task_def
from orchestrator.domain.problems import Problem
from projections import queries

CALLER_HEADER = "X-Caller"


def actor_of(request: Request) -> str:
    """``api:<caller>``: the X-Caller header (there is no authentication yet) or anonymous."""
    caller = (request.headers.get(CALLER_HEADER) or "").strip()
    return f"api:{caller or 'anonymous'}"


def now_ms() -> int:
    return int(time.time() * 1000)


async def task_defs(conn: AsyncConnection) -> dict[str, TaskDef]:
    """Every registered TaskDef by name (what workflow validation checks SIMPLE tasks against)."""
    found = {}
    for row in await queries.definitions(conn, "task"):
        found[row["name"]] = parse_task_def(row["body"])
    return found


def under(prefix: str, problems: tuple[Problem, ...] | list[Problem]) -> list[Problem]:
    """Problems of a nested document, re-rooted: ``$.tasks`` under ``$[2]`` is ``$[2].tasks``."""
    return [Problem(prefix + p.path.removeprefix("$"), p.message) for p in problems]
