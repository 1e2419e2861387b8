"""/docs tells the truth: the status codes each route really answers, and ``ErrorBody`` on errors.

Routes declare their success codes (``status_code=``, ``responses=`` with ``ACCEPTED`` when a
command may still be on its way) and the errors they answer on purpose (``errors(404, 409)``).
FastAPI also documents a 422 with its own validation shape for every operation with parameters,
but errors.py answers request validation with a 400 in Conductor's shape (as every other error):
``document_errors`` replaces that 422 with ``4XX`` and ``5XX`` responses carrying ``ErrorBody``,
and adds the schemas documented by hand (``documented_models``: the definition bodies, which
the routes read as raw JSON so that our own validator reports every problem with its path).
tests/unit/test_api_openapi.py walks the result; the fuzz test checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from orchestrator.api.models import ErrorBody, ErrorProblem

_REF = "#/components/schemas/ErrorBody"
_ERRORS = {
    "4XX": "The request is wrong: malformed (400, with validationErrors), unknown (404), "
    "in conflict with the execution's state (409)",
    "5XX": "Unavailable (503, retryable: Kafka or Postgres unreachable, a search too slow)",
}
_REASONS = {
    400: "Malformed: every problem with its JSON path in validationErrors",
    404: "Unknown workflow, task or definition",
    409: "In conflict with the execution's state, found by the API's pre-check or by the "
    "engine (then `code` is the engine's rejection code, e.g. WORKFLOW_TERMINAL)",
    413: "A payload over its maximum (ORCHESTRATOR_MAX_*_PAYLOAD_KB), or a record that cannot "
    "fit in Kafka; the message names the field, the size and the limit",
    503: "Kafka, Postgres or the payload store unreachable (retryable)",
}

# A command the engine had neither applied (visible in the read model) nor refused within the
# wait bound: it is on the commands topic and will be decided.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: sent to the engine, not visible in the read model yet"}
}

_documented: list[type[BaseModel]] = []


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses a route answers on purpose (always JSON,
    also for routes whose success is text: hence no ``model``, which takes the route's type)."""
    body = {"application/json": {"schema": {"$ref": _REF}}}
    return {code: {"description": _REASONS[code], "content": body} for code in codes}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra=`` for a route that reads its JSON body itself."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``, which is then added to the document's schemas."""
    if model not in _documented:
        _documented.append(model)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


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
            _untitled_body(operation)
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
    if _documented:
        _, top = models_json_schema(
            [(m, "validation") for m in _documented], ref_template="#/components/schemas/{model}"
        )
        schemas.update(top.get("$defs", {}))
    return spec


def _untitled_body(operation: dict[str, Any]) -> None:
    """FastAPI's "Body" title of a raw JSON parameter stays next to ``json_body``'s schema."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if schema.get("title") == "Body" and len(schema) > 1:
        del schema["title"]
