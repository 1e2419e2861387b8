"""/api/metadata: register and read workflow and task definitions.

Bodies are read as raw JSON and validated by the domain's own parser and rules (400 listing
EVERY problem with its path, Conductor's leniencies kept); /docs still shows their shape: the
pydantic models WorkflowDef / TaskDef of models.py, attached with ``openapi_extra``.

Registration validates, publishes a DefinitionRecord to
the definitions topic and waits for Kafka's acknowledgement (processors read definitions from
there), then upserts the same row into ``definitions`` so that a GET right after answers. The
projector's later upsert of that record writes the identical row.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel

from orchestrator.api import models as doc
from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms, task_defs, under
from orchestrator.api.errors import ApiError, bad_request, conflict, not_found
from orchestrator.api.kafka_out import DeliveryFailed
from orchestrator.api.openapi_errors import errors, json_body, ref
from orchestrator.codec.wire_infra import DefinitionRecord
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.problems import DefinitionError, Problem
from orchestrator.domain.validation import load_task_def, load_workflow_def
from orchestrator.kafka.topics import definition_key
from projections import queries
from projections.decoding import definition_change

router = APIRouter(prefix="/metadata", tags=["metadata"])

RtDep = Annotated[Runtime, Depends(runtime)]
AnyBody = Annotated[Any, Body()]


def _one_or_list(model: type[BaseModel], what: str) -> dict[str, Any]:
    one = ref(model)
    return json_body({"anyOf": [{"type": "array", "items": one}, one]}, what)


TASK_DEFS_BODY = _one_or_list(doc.TaskDef, "Task definitions (a list, or one object)")
WORKFLOW_DEFS_BODY = _one_or_list(doc.WorkflowDef, "Workflow definitions (a list, or one object)")
WORKFLOW_DEF_BODY = json_body(ref(doc.WorkflowDef), "One workflow definition")
REGISTERED = {200: {"description": "Registered (no body)"}, **errors(400, 413, 503)}
DEFINITION_SPARE = 16 * 1024  # bytes of a WorkflowStarted besides its definition


def _found(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}, **errors(404)}


def _listed(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {"application/json": {"schema": {"type": "array", "items": ref(model)}}}}
    }


def _as_list(body: Any, what: str) -> list[Any]:
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and body:
        return body
    raise bad_request(
        f"expected a {what} or a non-empty list of them", [Problem("$", "not a list")]
    )


def _check(items: list[Any], load: Any, single: bool) -> list[Any]:
    """Parse every item; one 400 with the problems of all of them (paths $[i]... for a list)."""
    parsed, problems = [], []
    for i, item in enumerate(items):
        prefix = "$" if single else f"$[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(prefix, "expected an object"))
            continue
        try:
            parsed.append(load(item))
        except DefinitionError as exc:
            problems.extend(under(prefix, exc.problems))
    if problems:
        raise bad_request(f"Validation failed: {len(problems)} problem(s)", problems)
    return parsed


async def _publish(rt: Runtime, definition: WorkflowDef | TaskDef, actor: str) -> None:
    at = now_ms()
    record = DefinitionRecord(definition, at, actor)
    key = definition_key(record.kind, record.name, record.version)
    value = rt.wire.encode_definition(definition, registered_at=at, actor=actor)
    # Every WorkflowStarted embeds its definition: it must leave room for the rest of the record.
    limit = rt.wire.record_max - DEFINITION_SPARE
    if len(value) > limit:
        raise ApiError(
            413,
            f"The {record.kind} definition {record.name} is {len(value)} bytes as a record, over "
            f"the {limit} bytes a definition may take in a Kafka record "
            f"(ORCHESTRATOR_MAX_RECORD_BYTES less {DEFINITION_SPARE})",
            code="PAYLOAD_TOO_LARGE",
        )
    try:
        await rt.producer.send(rt.topics.definitions, key, value)
    except DeliveryFailed as exc:
        raise ApiError(503, f"The definition was not stored, try again: {exc}") from None
    async with rt.pool.connection() as conn:
        await queries.save_definition(conn, definition_change(record))


# --- task definitions -----------------------------------------------------------------------


@router.post(
    "/taskdefs", response_class=Response, responses=REGISTERED, openapi_extra=TASK_DEFS_BODY
)
async def register_task_defs(rt: RtDep, request: Request, body: AnyBody) -> Response:
    """Register task definitions (a list, Conductor's shape; a single object is accepted)."""
    for definition in _check(
        _as_list(body, "task definition"), load_task_def, isinstance(body, dict)
    ):
        await _publish(rt, definition, actor_of(request))
    return Response(status_code=200)


@router.put(
    "/taskdefs", response_class=Response, responses=REGISTERED, openapi_extra=TASK_DEFS_BODY
)
async def update_task_defs(rt: RtDep, request: Request, body: AnyBody) -> Response:
    """Create or update task definitions (one object, Conductor's shape, or a list)."""
    return await register_task_defs(rt, request, body)


@router.get("/taskdefs", response_model=None, responses=_listed(doc.TaskDef))
async def list_task_defs(rt: RtDep) -> list[dict[str, Any]]:
    async with rt.pool.connection() as conn:
        return [row["body"] for row in await queries.definitions(conn, "task")]


@router.get("/taskdefs/{name}", response_model=None, responses=_found(doc.TaskDef))
async def get_task_def(rt: RtDep, name: str) -> dict[str, Any]:
    async with rt.pool.connection() as conn:
        row = await queries.definition(conn, "task", name, 0)
    if row is None:
        raise not_found(f"No such taskType found by name: {name}")
    body: dict[str, Any] = row["body"]
    return body


# --- workflow definitions -------------------------------------------------------------------


async def _load_workflows(rt: Runtime, items: list[Any], single: bool) -> list[WorkflowDef]:
    async with rt.pool.connection() as conn:
        known = await task_defs(conn)
    return _check(items, lambda data: load_workflow_def(data, known.get), single)


@router.post(
    "/workflow",
    response_class=Response,
    responses={**REGISTERED, **errors(409)},
    openapi_extra=WORKFLOW_DEF_BODY,
)
async def register_workflow_def(
    rt: RtDep,
    request: Request,
    body: AnyBody,
    overwrite: Annotated[
        bool, Query(description="Replace a different definition of that version")
    ] = False,
) -> Response:
    """Register one workflow definition; 409 if that name and version exist with other content,
    unless `overwrite=true` (Conductor's flag, which its SDKs send). Running workflows keep the
    definition they started with either way."""
    if not isinstance(body, dict):
        raise bad_request("expected a workflow definition object", [Problem("$", "not an object")])
    [definition] = await _load_workflows(rt, [body], single=True)
    change = definition_change(DefinitionRecord(definition, 0, ""))
    async with rt.pool.connection() as conn:
        existing = await queries.definition(conn, "workflow", definition.name, definition.version)
    if existing is not None and existing["body"] != change.body and not overwrite:
        raise conflict(
            f"Workflow with name {definition.name} and version {definition.version} already "
            "exists (use PUT /api/metadata/workflow to update it)"
        )
    await _publish(rt, definition, actor_of(request))
    return Response(status_code=200)


@router.put(
    "/workflow", response_class=Response, responses=REGISTERED, openapi_extra=WORKFLOW_DEFS_BODY
)
async def update_workflow_defs(rt: RtDep, request: Request, body: AnyBody) -> Response:
    """Create or update workflow definitions (a list, Conductor's shape; one object accepted)."""
    items = _as_list(body, "workflow definition")
    for definition in await _load_workflows(rt, items, isinstance(body, dict)):
        await _publish(rt, definition, actor_of(request))
    return Response(status_code=200)


@router.get("/workflow", response_model=None, responses=_listed(doc.WorkflowDef))
async def list_workflow_defs(rt: RtDep) -> list[dict[str, Any]]:
    """Every version of every workflow definition."""
    async with rt.pool.connection() as conn:
        return [row["body"] for row in await queries.definitions(conn, "workflow")]


@router.get("/workflow/{name}", response_model=None, responses=_found(doc.WorkflowDef))
async def get_workflow_def(
    rt: RtDep, name: str, version: Annotated[int | None, Query()] = None
) -> dict[str, Any]:
    """One version (the latest when ``version`` is absent)."""
    async with rt.pool.connection() as conn:
        row = await queries.definition(conn, "workflow", name, version)
    if row is None:
        shown = "latest" if version is None else str(version)
        raise not_found(f"No such workflow found by name: {name}, version: {shown}")
    body: dict[str, Any] = row["body"]
    return body


__all__ = ["ApiError", "router"]
