"""/docs tells the truth about errors: every operation answers ``ErrorBody`` on a 4xx or 5xx.

FastAPI documents a 422 with its own validation shape for every operation with parameters, but
errors.py answers request validation with a 400 in Conductor's shape (as every other error).
This replaces that 422 with ``4XX`` and ``5XX`` responses carrying ``ErrorBody``, so clients
(and the OpenAPI fuzz test, which validates error bodies against it) see the real contract.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from orchestrator.api.models import ErrorBody, ErrorProblem

_REF = "#/components/schemas/ErrorBody"
_ERRORS = {
    "4XX": "The request is wrong: malformed (400, with validationErrors), unknown (404), "
    "in conflict with the execution's state (409)",
    "5XX": "Unavailable (503, retryable: Kafka or Postgres unreachable, a search too slow)",
}


def document_errors(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_errors(spec: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": _REF}}}}
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code, description in _ERRORS.items():
                responses.setdefault(code, {"description": description, **error})
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ErrorProblem"] = ErrorProblem.model_json_schema()
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body.pop("$defs", None)
    schemas["ErrorBody"] = body
    return spec
