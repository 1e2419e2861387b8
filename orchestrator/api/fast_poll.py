"""The batch poll without FastAPI's routing, dependency solving and response model (issue #18).

Profiled at 10 wf/s (docs/benchmarks.md, "The Conductor HTTP path"), 62 % of the API's CPU was
the framework around the handlers, paid by every request; with the SDKs' 100 ms poll timeout most
requests are empty batch polls. ``FastPoll`` answers ``GET /api/tasks/poll/batch/{taskType}``
itself, inside ``AuthMiddleware`` (the caller is authenticated and the route's permission checked
before it runs) and before the router: the same ``TaskBridge.poll``, the same JSON, the same
query parameters and bounds as ``routes_tasks.batch_poll``. Anything it does not handle exactly
as that route would (a malformed or out-of-range parameter, a limited worker asking for a type
it may not work on, an unexpected path) goes on to FastAPI, which answers as it always did.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.auth import PRINCIPAL
from orchestrator.api.errors import error_body

log = logging.getLogger(__name__)

PATH = "/api/tasks/poll/batch/"
MAX_BATCH = 1000  # as routes_tasks (asserted equal in tests/unit/test_api_fast_poll.py)
MAX_POLL_TIMEOUT_MS = 60_000
_JSON = [(b"content-type", b"application/json")]


class PollQuery:
    """The batch poll's query, or None when FastAPI should answer (and explain) it."""

    __slots__ = ("count", "domain", "timeout", "workerid")

    def __init__(self, workerid: str | None, domain: str | None, count: int, timeout: int):
        self.workerid, self.domain, self.count, self.timeout = workerid, domain, count, timeout

    @classmethod
    def parse(cls, query_string: bytes) -> PollQuery | None:
        try:
            params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
            count = int(params.get("count", "1"))
            timeout = int(params.get("timeout", "100"))
        except ValueError:
            return None
        if not (1 <= count <= MAX_BATCH and 0 <= timeout <= MAX_POLL_TIMEOUT_MS):
            return None
        return cls(params.get("workerid"), params.get("domain"), count, timeout)


class FastPoll:
    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner  # the FastAPI app: its state holds the task bridge (lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handled = scope["type"] == "http" and scope["method"] == "GET"
        path: str = scope.get("path", "")
        if not handled or scope.get("root_path") or not path.startswith(PATH):
            await self.app(scope, receive, send)
            return
        task_type = path[len(PATH) :]
        query = PollQuery.parse(scope.get("query_string", b""))
        principal = scope.get(PRINCIPAL)
        bridge = getattr(self.owner.state, "task_bridge", None)
        if (
            query is None
            or not task_type
            or "/" in task_type
            or principal is None
            or not principal.may_work_on(task_type)
            or bridge is None
        ):
            await self.app(scope, receive, send)
            return
        try:
            tasks = await bridge.poll(
                task_type,
                query.domain,
                query.workerid,
                query.count,
                query.timeout,
                actor=principal.worker_actor,
            )
            status, body = 200, orjson.dumps(tasks)
        except Exception as exc:  # as errors.install's handler of the unexpected
            log.exception("unhandled error on GET %s", path)
            status = 500
            body = orjson.dumps(error_body(500, f"Internal error: {type(exc).__name__}: {exc}"))
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
