"""/api/event: Conductor's event handlers (EventResource), stored as definitions.

Registration validates (orchestrator/domain/event_handlers.py: a 400 naming every field),
publishes a DefinitionRecord of kind ``event_handler`` to the definitions topic (key
``event_handler:<name>``; the event-handler processes read it there), waits for Kafka's
acknowledgement, then upserts the read model's row so that a GET right after answers; deleting
publishes a tombstone. Conductor's answers: 409 when adding a name that exists, 404 when
updating or deleting one that does not, 200 with no body otherwise; a handler is inactive
unless ``"active": true``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms
from orchestrator.api.errors import bad_request, conflict, not_found
from orchestrator.api.openapi_errors import errors, json_body, ref
from orchestrator.codec.wire_infra import DefinitionRecord
from orchestrator.domain.event_handlers import EventHandler as HandlerDef
from orchestrator.domain.event_handlers import parse_event_handler
from orchestrator.domain.problems import DefinitionError
from orchestrator.kafka.topics import definition_key
from projections import queries
from projections.apply import DefinitionChange
from projections.decoding import definition_change

router = APIRouter(prefix="/event", tags=["event handlers"])
RtDep = Annotated[Runtime, Depends(runtime)]
KIND = "event_handler"


# -- documentation models (the routes read raw JSON and validate it themselves) -----------------


class ActionType(StrEnum):
    start_workflow = "start_workflow"
    complete_task = "complete_task"
    fail_task = "fail_task"
    terminate_workflow = "terminate_workflow"
    update_workflow_variables = "update_workflow_variables"
    start_agent = "start_agent"


class StartWorkflowParams(BaseModel):
    """start_workflow: ``${...}`` in input and correlationId read the event's payload."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    version: int | None = None
    correlationId: str | None = None
    input: dict[str, Any] | None = None
    taskToDomain: dict[str, str] | None = None


class TaskDetails(BaseModel):
    """complete_task / fail_task: taskId, or workflowId and taskRefName (expressions allowed)."""

    model_config = ConfigDict(extra="allow")
    workflowId: str | None = None
    taskRefName: str | None = None
    taskId: str | None = None
    output: dict[str, Any] | None = None
    reasonForIncompletion: str | None = None


class EventHandlerAction(BaseModel):
    """One action. terminate_workflow, update_workflow_variables and start_agent are accepted
    but not run (as Conductor OSS 3.32.3's action processor): recorded as failed."""

    model_config = ConfigDict(extra="allow")
    action: ActionType
    start_workflow: StartWorkflowParams | None = None
    complete_task: TaskDetails | None = None
    fail_task: TaskDetails | None = None
    expandInlineJSON: bool = False


class EventHandler(BaseModel):
    """Conductor's EventHandler. event: ``conductor:<workflow>:<queue>`` or ``kafka:<topic>``."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    event: str = Field(min_length=1)
    condition: str | None = None
    evaluatorType: str | None = Field(None, description="javascript, graaljs or value-param")
    actions: list[EventHandlerAction] = Field(min_length=1)
    active: bool = False


HANDLER_BODY = json_body(ref(EventHandler), "One event handler")
Responses = dict[int | str, dict[str, Any]]
LISTED: Responses = {
    200: {
        "content": {"application/json": {"schema": {"type": "array", "items": ref(EventHandler)}}}
    }
}
DONE: Responses = {200: {"description": "Done (no body)"}}


# -- routes ----------------------------------------------------------------------------------


@router.post(
    "", response_class=Response, responses={**DONE, **errors(400, 409)}, openapi_extra=HANDLER_BODY
)
async def add_event_handler(rt: RtDep, request: Request, body: Annotated[Any, Body()]) -> Response:
    """Add an event handler; 409 if one of that name exists (use PUT to change it)."""
    handler = _parse(body)
    if await _row(rt, handler.name) is not None:
        raise conflict(f"EventHandler with name {handler.name} already exists!")
    await _publish(rt, handler, actor_of(request))
    return Response(status_code=200)


@router.put(
    "", response_class=Response, responses={**DONE, **errors(400, 404)}, openapi_extra=HANDLER_BODY
)
async def update_event_handler(
    rt: RtDep, request: Request, body: Annotated[Any, Body()]
) -> Response:
    """Replace an existing event handler; 404 if there is none of that name."""
    handler = _parse(body)
    if await _row(rt, handler.name) is None:
        raise not_found(f"EventHandler with name {handler.name} not found!")
    await _publish(rt, handler, actor_of(request))
    return Response(status_code=200)


@router.get("", response_model=None, responses=LISTED)
async def list_event_handlers(rt: RtDep) -> list[dict[str, Any]]:
    """Every event handler, active or not."""
    async with rt.pool.connection() as conn:
        return [row["body"] for row in await queries.definitions(conn, KIND)]


@router.get("/{event}", response_model=None, responses=LISTED)
async def event_handlers_for_event(
    rt: RtDep,
    event: str,
    activeOnly: Annotated[bool, Query(description="Only active handlers")] = True,
) -> list[dict[str, Any]]:
    """The handlers of one event (``conductor:<workflow>:<queue>``, ``kafka:<topic>``)."""
    async with rt.pool.connection() as conn:
        rows = await queries.definitions(conn, KIND)
    bodies = [row["body"] for row in rows if row["body"].get("event") == event]
    return [b for b in bodies if b.get("active") or not activeOnly]


@router.delete("/{name}", response_class=Response, responses={**DONE, **errors(404)})
async def remove_event_handler(rt: RtDep, name: str) -> Response:
    """Remove an event handler; 404 if there is none of that name."""
    if await _row(rt, name) is None:
        raise not_found(f"EventHandler with name {name} not found!")
    await rt.producer.send(rt.topics.definitions, definition_key(KIND, name), None)
    async with rt.pool.connection() as conn:
        await queries.save_definition(conn, DefinitionChange(KIND, name, 0, None))
    return Response(status_code=200)


def _parse(body: Any) -> HandlerDef:
    try:
        return parse_event_handler(body)
    except DefinitionError as exc:
        count = len(exc.problems)
        raise bad_request(f"Validation failed: {count} problem(s)", exc.problems) from None


async def _row(rt: Runtime, name: str) -> Any:
    async with rt.pool.connection() as conn:
        return await queries.definition(conn, KIND, name, 0)


async def _publish(rt: Runtime, handler: HandlerDef, actor: str) -> None:
    at = now_ms()
    value = rt.wire.encode_definition(handler, registered_at=at, actor=actor)
    await rt.producer.send(rt.topics.definitions, definition_key(KIND, handler.name), value)
    async with rt.pool.connection() as conn:
        await queries.save_definition(conn, definition_change(DefinitionRecord(handler, at, actor)))
