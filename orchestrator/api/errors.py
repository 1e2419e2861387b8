"""Every error is JSON in Conductor's shape: ``{"status", "message", "validationErrors"?}``.

Handlers registered here turn our ApiError, request validation errors (with the field path),
unknown routes and unexpected exceptions into that shape; never an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.api.openapi_errors import document_errors
from orchestrator.domain.problems import Problem

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        validation_errors: Sequence[Problem] = (),
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.validation_errors = tuple(validation_errors)
        self.headers = headers
        self.code = code  # Conductor's error code field; ours: the engine's rejection code


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def bad_request(message: str, problems: Sequence[Problem] = ()) -> ApiError:
    return ApiError(400, message, problems)


def error_body(
    status: int, message: str, problems: Sequence[Problem] = (), code: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "message": message, "retryable": status == 503}
    if code is not None:
        body["code"] = code
    if problems:
        body["validationErrors"] = [{"path": p.path, "message": p.message} for p in problems]
    return body


def _field_path(location: Sequence[Any]) -> str:
    """pydantic's ('body', 'tasks', 0, 'name') as a JSONPath: $.tasks[0].name."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, parts = parts[0], parts[1:]
        if where != "body":
            return ".".join(str(p) for p in [where, *parts])
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def install(app: FastAPI) -> None:
    document_errors(app)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status, exc.message, exc.validation_errors, exc.code),
            status_code=exc.status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [Problem(_field_path(e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return JSONResponse(
            error_body(400, "Validation failed: the request is malformed", problems),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.method} {request.url.path}"
        return JSONResponse(
            error_body(exc.status_code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(psycopg.DataError)
    async def invalid_value(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # A value Postgres cannot hold or compare (a NUL character, a number beyond bigint):
        # it came from the request, so it is the client's 400, not our 500.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.info("invalid value on %s %s: %s", request.method, request.url.path, reason)
        return JSONResponse(error_body(400, f"Invalid value in the request: {reason}"), 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(500, f"Internal error: {type(exc).__name__}: {exc}"), status_code=500
        )
