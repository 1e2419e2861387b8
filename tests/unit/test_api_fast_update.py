"""POST /api/tasks's fast path (orchestrator/api/fast_update.py): the well-formed TaskResult is
reported as the route would; everything else reaches FastAPI with its body intact."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from orchestrator.api import routes_tasks
from orchestrator.api.auth import PRINCIPAL
from orchestrator.api.errors import ApiError
from orchestrator.api.fast_update import FastUpdate
from orchestrator.api.task_json import TaskResultBody
from orchestrator.auth.roles import Principal, Role
from orchestrator.domain.statuses import TaskStatus

WORKER = Principal("w", frozenset({Role.WORKER}), "key")
LIMITED = Principal("w", frozenset({Role.WORKER}), "key", task_types=frozenset({"a"}))
GOOD = orjson.dumps(
    {"workflowInstanceId": "wf", "taskId": "t1", "status": "COMPLETED", "outputData": {"x": 1}}
)


def call(
    chunks: list[bytes],
    principal: Principal | None = WORKER,
    content_type: bytes = b"application/json",
) -> tuple[list[bytes] | None, list[dict[str, Any]]]:
    """(the body FastAPI read, or None if it was not called; what was sent)."""
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    passed: list[bytes] | None = None
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        nonlocal passed
        passed = []
        while True:
            message = await receive()
            passed.append(message["body"])
            if not message["more_body"]:
                return

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/api/tasks",
        "headers": [(b"content-type", content_type)],
    }
    if principal is not None:
        scope[PRINCIPAL] = principal
    state = SimpleNamespace(runtime="rt", task_bridge="bridge")
    asyncio.run(FastUpdate(inner, SimpleNamespace(state=state))(scope, receive, send))
    return passed, sent


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    async def report(rt: Any, bridge: Any, actor: str, body: TaskResultBody) -> None:
        calls.append((rt, bridge, actor, body))

    monkeypatch.setattr(routes_tasks, "report", report)
    return calls


def test_a_well_formed_result_is_reported_and_answered_with_the_task_id(
    reported: list[tuple[Any, ...]],
) -> None:
    passed, sent = call([GOOD[:20], GOOD[20:]])  # a body in two chunks
    assert passed is None
    [(rt, bridge, actor, body)] = reported
    assert (rt, bridge, actor) == ("rt", "bridge", "worker:w")
    assert (body.taskId, body.status, body.outputData) == ("t1", TaskStatus.COMPLETED, {"x": 1})
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"t1"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1]", orjson.dumps({"taskId": "t1", "status": "COMPLETED"})],
)
def test_a_malformed_body_reaches_fastapi_intact(
    raw: bytes, reported: list[tuple[Any, ...]]
) -> None:
    passed, sent = call([raw[:3], raw[3:]])
    assert (b"".join(passed or []), sent, reported) == (raw, [], [])


def test_limited_workers_and_other_content_types_go_to_fastapi(
    reported: list[tuple[Any, ...]],
) -> None:
    assert call([GOOD], principal=LIMITED)[0] == [GOOD]
    assert call([GOOD], content_type=b"text/plain")[0] == [GOOD]
    assert call([GOOD], principal=None)[0] == [GOOD]
    assert reported == []


def test_an_api_error_of_the_report_is_answered_as_the_error_handler_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def report(*_: Any) -> None:
        raise ApiError(413, "too large", headers={"X-Why": "size"})

    monkeypatch.setattr(routes_tasks, "report", report)
    _, sent = call([GOOD])
    assert sent[0]["status"] == 413
    assert (b"x-why", b"size") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["message"] == "too large"
