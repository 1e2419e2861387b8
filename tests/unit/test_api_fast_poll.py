"""The batch poll's fast path (orchestrator/api/fast_poll.py): what it takes, what it leaves to
FastAPI. The end-to-end behaviour is covered by every HTTP-polling e2e test (they go through it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from orchestrator.api import fast_poll, routes_tasks
from orchestrator.api.auth import PRINCIPAL
from orchestrator.api.fast_poll import FastPoll, PollQuery
from orchestrator.auth.roles import Principal, Role


def test_the_bounds_are_the_routes() -> None:
    assert (fast_poll.MAX_BATCH, fast_poll.MAX_POLL_TIMEOUT_MS) == (
        routes_tasks.MAX_BATCH,
        routes_tasks.MAX_POLL_TIMEOUT_MS,
    )


def test_a_well_formed_query_is_parsed_with_the_routes_defaults() -> None:
    q = PollQuery.parse(b"count=10&timeout=250&workerid=w1&domain=eu")
    assert q is not None and (q.count, q.timeout, q.workerid, q.domain) == (10, 250, "w1", "eu")
    d = PollQuery.parse(b"")
    assert d is not None and (d.count, d.timeout, d.workerid, d.domain) == (1, 100, None, None)


@pytest.mark.parametrize(
    "query", [b"count=0", b"count=1001", b"count=x", b"count=", b"timeout=-1", b"timeout=60001"]
)
def test_a_malformed_or_out_of_range_query_goes_to_fastapi(query: bytes) -> None:
    assert PollQuery.parse(query) is None


class Bridge:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def poll(self, *args: Any, actor: str) -> list[dict[str, Any]]:
        self.calls.append((*args, actor))
        return [{"taskId": "t1", "inputData": {"é": 1}}]


def call(path: str, query: bytes, principal: Principal | None) -> tuple[list, list, Bridge]:
    bridge = Bridge()
    passed: list[str] = []
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        passed.append(scope["path"])

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query}
    if principal is not None:
        scope[PRINCIPAL] = principal
    app = FastPoll(inner, SimpleNamespace(state=SimpleNamespace(task_bridge=bridge)))
    asyncio.run(app(scope, None, send))
    return passed, sent, bridge


WORKER = Principal("w", frozenset({Role.WORKER}), "key")


def test_a_batch_poll_is_answered_from_the_bridge_as_json() -> None:
    passed, sent, bridge = call("/api/tasks/poll/batch/resize", b"count=5&workerid=w1", WORKER)
    assert passed == []
    assert bridge.calls == [("resize", None, "w1", 5, 100, "worker:w")]
    assert sent[0]["status"] == 200
    assert orjson.loads(sent[1]["body"]) == [{"taskId": "t1", "inputData": {"é": 1}}]


def test_what_the_route_must_answer_passes_through() -> None:
    limited = Principal("w", frozenset({Role.WORKER}), "key", task_types=frozenset({"other"}))
    for path, query, principal in [
        ("/api/tasks/poll/batch/resize", b"count=0", WORKER),  # 400 from FastAPI
        ("/api/tasks/poll/batch/resize", b"", None),  # no principal: not authenticated here
        ("/api/tasks/poll/batch/resize", b"", limited),  # 403 from authorize
        ("/api/tasks/poll/resize", b"", WORKER),  # another route
        ("/api/tasks/poll/batch/", b"", WORKER),
    ]:
        passed, sent, bridge = call(path, query, principal)
        assert (passed, sent, bridge.calls) == ([path], [], []), path
