"""``POST /api/tasks`` (a worker's TaskResult) without FastAPI's routing and dependencies (#18).

After the batch poll (fast_poll.py), the task update is the most frequent request of the HTTP
path: 7 per workflow of the benchmark workload. ``FastUpdate`` sits where ``FastPoll`` does
(inside ``AuthMiddleware``, before the router) and answers the well-formed case itself: the body
validated by the same ``TaskResultBody``, the same ``routes_tasks.report``, the task id as text.
Everything else reaches FastAPI with the body replayed, and is answered as it always was: a body
that is not valid JSON or not a valid TaskResult (400 naming the field), a limited worker (whose
task type is checked by ``authorize``), a body over ``MAX_FAST_BODY``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.auth import PRINCIPAL
from orchestrator.api.errors import ApiError, error_body
from orchestrator.api.task_json import TaskResultBody

log = logging.getLogger(__name__)

PATH = "/api/tasks"
MAX_FAST_BODY = 1024 * 1024  # larger bodies take FastAPI's path (payload offloading and all)


def _replay(chunks: list[bytes], more: bool, receive: Receive) -> Receive:
    """A receive that hands the body read so far back first, then the rest as it comes."""
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": more}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _read(receive: Receive) -> tuple[list[bytes], bool]:
    """The body's chunks, and whether more is left (stopped past MAX_FAST_BODY)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return chunks, False
        if size > MAX_FAST_BODY:
            return chunks, True


class FastUpdate:
    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner  # the FastAPI app: runtime and task bridge in its state (lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get(PRINCIPAL)
        state = self.owner.state
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("path") != PATH
            or scope.get("root_path")
            or principal is None
            or principal.limited
            or not _json_content(scope)
            or getattr(state, "task_bridge", None) is None
        ):
            await self.app(scope, receive, send)
            return
        chunks, more = await _read(receive)
        body = None if more else _body(b"".join(chunks))
        if body is None:
            await self.app(scope, _replay(chunks, more, receive), send)
            return
        await self._answer(scope, send, principal.worker_actor, body)

    async def _answer(self, scope: Scope, send: Send, actor: str, body: TaskResultBody) -> None:
        from orchestrator.api.routes_tasks import report

        state = self.owner.state
        headers: dict[str, str] = {}
        try:
            await report(state.runtime, state.task_bridge, actor, body)
            status, content, kind = 200, body.taskId.encode(), b"text/plain; charset=utf-8"
        except ApiError as exc:  # as errors.install's handler
            status, headers = exc.status, dict(exc.headers or {})
            error = error_body(exc.status, exc.message, exc.validation_errors, exc.code)
            content, kind = orjson.dumps(error), b"application/json"
        except Exception as exc:
            log.exception("unhandled error on POST %s", PATH)
            status, kind = 500, b"application/json"
            content = orjson.dumps(error_body(500, f"Internal error: {type(exc).__name__}: {exc}"))
        raw = [(b"content-type", kind), (b"content-length", str(len(content)).encode())]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})


def _json_content(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


def _body(raw: bytes) -> TaskResultBody | None:
    """The TaskResult, or None for FastAPI to explain what is wrong with it."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    try:
        return TaskResultBody.model_validate(value)
    except ValidationError:
        return None
