"""Conductor's event handlers: the definition, read from and written to Conductor's JSON.

An event handler (``POST /api/event``) names an event (``conductor:<workflow>:<queue>``, what an
EVENT task with sink ``conductor`` publishes, or ``kafka:<topic>``), an optional condition over
the event's payload and the actions to run when a message arrives: start a workflow, complete or
fail a task (Conductor's ``SimpleActionProcessor``; orchestrator/domain/event_actions.py runs
them). Handlers are definitions like workflow and task definitions: on the definitions topic
(key ``event_handler:<name>``), in every process's registry and in the read model.

Conductor 3.32.3's model and defaults: ``active`` is false unless given (Jackson's default for a
primitive boolean), ``expandInlineJSON`` false; the action types ``terminate_workflow``,
``update_workflow_variables`` and ``start_agent`` are accepted but not run by its action
processor ("Action not supported"), and so here. Validation is stricter than Conductor's where
Conductor would fail only when a message arrives (or answer 500): an unknown action type, an
event type this deployment cannot consume, an action without its parameters. Every problem
names its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestrator.domain.problems import DefinitionError, Problem, Reader, describe

JSON = Any

EVENT_TYPES = ("conductor", "kafka")  # the queue types this deployment consumes
EVALUATOR_TYPES = ("javascript", "graaljs", "value-param")


class ActionType(StrEnum):
    START_WORKFLOW = "start_workflow"
    COMPLETE_TASK = "complete_task"
    FAIL_TASK = "fail_task"
    TERMINATE_WORKFLOW = "terminate_workflow"
    UPDATE_WORKFLOW_VARIABLES = "update_workflow_variables"
    START_AGENT = "start_agent"


RUN_BY_CONDUCTOR = (ActionType.START_WORKFLOW, ActionType.COMPLETE_TASK, ActionType.FAIL_TASK)


@dataclass(frozen=True, slots=True)
class EventAction:
    action: ActionType
    params: JSON = None  # the action's own object (``start_workflow: {...}``), as registered
    expand_inline_json: bool = False


@dataclass(frozen=True, slots=True)
class EventHandler:
    name: str
    event: str
    actions: tuple[EventAction, ...]
    condition: str | None = None
    evaluator_type: str | None = None
    active: bool = False


def parse_event_handler(data: JSON) -> EventHandler:
    """The handler in ``data`` (Conductor's JSON); DefinitionError listing every problem."""
    r = Reader()
    d = r.obj(data, "$") or {}
    handler = EventHandler(
        name=_required(r, d, "name", "Missing event handler name"),
        event=_event(r, d),
        actions=_actions(r, d.get("actions")),
        condition=r.opt_str(d, "condition", "$") or None,
        evaluator_type=_evaluator(r, d),
        active=r.boolean(d, "active", "$", False),
    )
    if r.problems:
        raise DefinitionError(r.problems)
    return handler


def event_handler_to_json(h: EventHandler) -> dict[str, JSON]:
    """Conductor's JSON of the handler (null fields left out, as Conductor's ObjectMapper)."""
    out: dict[str, JSON] = {"name": h.name, "event": h.event}
    if h.condition is not None:
        out["condition"] = h.condition
    if h.evaluator_type is not None:
        out["evaluatorType"] = h.evaluator_type
    out["actions"] = [_action_json(a) for a in h.actions]
    out["active"] = h.active
    return out


def event_type(event: str) -> tuple[str, str]:
    """(queue type, queue name): ``kafka:orders`` -> (kafka, orders)."""
    kind, _, rest = event.partition(":")
    return kind, rest


def _action_json(a: EventAction) -> dict[str, JSON]:
    out: dict[str, JSON] = {"action": a.action.value}
    if a.params is not None:
        out[a.action.value] = a.params
    out["expandInlineJSON"] = a.expand_inline_json
    return out


def _required(r: Reader, d: Mapping[str, JSON], key: str, message: str) -> str:
    value = d.get(key)
    if isinstance(value, str) and value.strip():
        return value
    if value is None or isinstance(value, str):
        r.problem(f"$.{key}", message)
    else:
        r.wrong(f"$.{key}", "a string", value)
    return ""


def _event(r: Reader, d: Mapping[str, JSON]) -> str:
    event = _required(r, d, "event", "Missing event location")
    if not event:
        return event
    kind, queue = event_type(event)
    if kind not in EVENT_TYPES:
        r.problem(
            "$.event",
            f"event type {kind!r} is not supported here: use conductor:<workflow>:<queue> "
            "(what an EVENT task with sink 'conductor' publishes) or kafka:<topic>",
        )
    elif not queue.strip():
        r.problem("$.event", f"{event!r} names no queue: use {kind}:<name>")
    return event


def _evaluator(r: Reader, d: Mapping[str, JSON]) -> str | None:
    value = r.opt_str(d, "evaluatorType", "$") or None
    if value is not None and value not in EVALUATOR_TYPES:
        allowed = ", ".join(EVALUATOR_TYPES)
        r.problem("$.evaluatorType", f"{value!r} is not one of {allowed} (or absent: JavaScript)")
    return value


def _actions(r: Reader, value: JSON) -> tuple[EventAction, ...]:
    if not isinstance(value, list) or not value:
        if value is not None and not isinstance(value, list):
            r.wrong("$.actions", "a list", value)
        else:
            r.problem("$.actions", "No actions specified. Please specify at-least one action")
        return ()
    return tuple(
        a for i, item in enumerate(value) if (a := _action(r, item, f"$.actions[{i}]")) is not None
    )


def _action(r: Reader, item: JSON, path: str) -> EventAction | None:
    d = r.obj(item, path)
    if d is None:
        return None
    raw = d.get("action")
    try:
        action = ActionType(str(raw)) if isinstance(raw, str) else ActionType("")
    except ValueError:
        allowed = ", ".join(a.value for a in ActionType)
        r.problem(f"{path}.action", f"{describe(raw)} is not one of {allowed}")
        return None
    params = d.get(action.value)
    if params is not None:
        params = r.json_value(params, f"{path}.{action.value}")
    if action is ActionType.START_WORKFLOW:
        _check_start(r, params, f"{path}.{action.value}")
    elif action in (ActionType.COMPLETE_TASK, ActionType.FAIL_TASK):
        _check_task(r, params, f"{path}.{action.value}")
    expand = r.boolean(d, "expandInlineJSON", path, False)
    return EventAction(action, params, expand)


def _check_start(r: Reader, params: JSON, path: str) -> None:
    d = r.obj(params, path)
    if d is None:
        return
    _required_at(r, d, "name", path)
    r.opt_int(d, "version", path)
    r.opt_str(d, "correlationId", path)
    r.json_obj(d, "input", path)
    r.str_map(d, "taskToDomain", path)


def _check_task(r: Reader, params: JSON, path: str) -> None:
    d = r.obj(params, path)
    if d is None:
        return
    for key in ("workflowId", "taskRefName", "taskId", "reasonForIncompletion"):
        r.opt_str(d, key, path)
    r.json_obj(d, "output", path)
    if not d.get("taskId") and not (d.get("workflowId") and d.get("taskRefName")):
        r.problem(path, "needs taskId, or workflowId and taskRefName (expressions allowed)")


def _required_at(r: Reader, d: Mapping[str, JSON], key: str, path: str) -> None:
    value = d.get(key)
    if not isinstance(value, str) or not value.strip():
        r.problems.append(Problem(f"{path}.{key}", f"{key} is required"))
