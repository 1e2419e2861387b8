"""Small helpers the routes share: who is calling, what time it is, the task-def lookup."""

from __future__ import annotations

import time

from fastapi import Request
from psycopg import AsyncConnection

from orchestrator.api.auth import principal_of
from orchestrator.auth.roles import Role
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_task_def
from orchestrator.domain.problems import Problem
from projections import queries


def actor_of(request: Request) -> str:
    """``api:<principal>``: who the request's credential names (orchestrator/api/auth.py); no
    header a client sets can change it (``api:anonymous`` when authentication is off)."""
    return principal_of(request).api_actor


def worker_actor_of(request: Request) -> str:
    """``worker:<principal>``: a worker authenticated over HTTP (polls, task results)."""
    return principal_of(request).worker_actor


def reporter_actor_of(request: Request) -> str:
    """A task finished by reference: ``worker:<principal>`` for a worker key, else ``api:``."""
    principal = principal_of(request)
    return principal.worker_actor if principal.roles == {Role.WORKER} else principal.api_actor


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
