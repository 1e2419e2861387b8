"""What an event handler does with a message: Conductor's DefaultEventProcessor and
SimpleActionProcessor, pure (the shell in orchestrator/events/ sends the results as commands).

For a message of an event, every *active* handler of that event (by name order) is checked:

- its condition, over the payload with inline JSON strings expanded (Conductor always expands
  for the condition): JavaScript with ``$`` bound to the payload when ``evaluatorType`` is
  absent, ``javascript`` or ``graaljs``; ``value-param``: the payload's value of that key. The
  result counts as true when it is ``true`` or a number > 0 (Conductor's ``toBoolean``);
- then each action, its ``${...}`` parameters resolved against the payload (expanded only with
  ``expandInlineJSON``; ``${$}`` is the whole payload):
  - ``start_workflow``: a ``StartRequest``; the input gets ``conductor.event.messageId`` and
    ``conductor.event.name``; ``taskToDomain`` is the action's, else the payload's
    ``taskToDomain``. Its workflow id is derived from (handler, event, message id, action
    index), so a message handled twice starts one workflow;
  - ``complete_task`` / ``fail_task``: a ``TaskUpdate`` by task id, or by workflow id and
    reference name (the latest iteration inside a loop, as the engine reads an unsuffixed
    reference); its output is the resolved parameters (workflowId, taskId, taskRefName,
    reasonForIncompletion, then the action's ``output`` entries) plus the message id and event
    name, as Conductor sets it;
  - anything else, or parameters that resolve to nothing usable: ``NotRun`` with the reason
    (Conductor's "Action not supported ..." for the action types it does not run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.domain import ids
from orchestrator.domain.event_handlers import ActionType, EventAction, EventHandler
from orchestrator.domain.expressions import resolve, to_text
from orchestrator.domain.jsonpath import MISSING
from orchestrator.domain.ports import ScriptError, ScriptEvaluator
from orchestrator.domain.statuses import TaskStatus

JSON = Any
MESSAGE_ID = "conductor.event.messageId"
EVENT_NAME = "conductor.event.name"


@dataclass(frozen=True, slots=True)
class EventMessage:
    event: str  # conductor:<workflow>:<queue> or kafka:<topic>
    message_id: str
    payload: JSON


@dataclass(frozen=True, slots=True)
class StartRequest:
    handler: str
    index: int
    workflow_id: str
    name: str
    version: int | None
    input: dict[str, JSON]
    correlation_id: str | None
    task_to_domain: dict[str, str]


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    handler: str
    index: int
    status: TaskStatus  # COMPLETED or FAILED
    workflow_id: str | None
    task_ref: str | None
    task_id: str | None
    output: dict[str, JSON]
    reason: str | None


@dataclass(frozen=True, slots=True)
class NotRun:
    handler: str
    index: int
    action: str
    reason: str


Planned = StartRequest | TaskUpdate | NotRun


def handlers_for(handlers: Iterable[EventHandler], event: str) -> list[EventHandler]:
    """The active handlers of ``event``, by name (a stable order for replays)."""
    return sorted((h for h in handlers if h.active and h.event == event), key=lambda h: h.name)


def condition_holds(handler: EventHandler, payload: JSON, scripts: ScriptEvaluator) -> bool:
    """Whether the handler's condition accepts the payload. Raises ScriptError."""
    if not handler.condition:
        return True
    doc = expand(payload)
    if handler.evaluator_type == "value-param":
        if not isinstance(doc, Mapping):
            raise ScriptError(f"Input has to be a JSON object: {type(doc).__name__}")
        return to_boolean(doc.get(handler.condition))
    if not isinstance(doc, Mapping):
        raise ScriptError("the event payload is not a JSON object")
    return to_boolean(scripts.evaluate_js(handler.condition, doc))


def plan(handler: EventHandler, message: EventMessage) -> list[Planned]:
    """What each action of ``handler`` asks for, in order."""
    return [_plan_action(handler, i, a, message) for i, a in enumerate(handler.actions)]


def to_boolean(value: JSON) -> bool:
    """Conductor's ScriptEvaluator.toBoolean: a boolean, or a number > 0; anything else false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    return False


def expand(value: JSON) -> JSON:
    """A copy of ``value`` with every string that holds a JSON object or list parsed (one level,
    as Conductor's JsonUtils.expand; strings inside lists too, where Conductor forgets them)."""
    if isinstance(value, Mapping):
        return {k: _expand_item(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_item(v) for v in value]
    if isinstance(value, str):
        return _parsed(value)
    return value


def _expand_item(value: JSON) -> JSON:
    if isinstance(value, str):
        return _parsed(value) if value.strip()[:1] in ("{", "[") else value
    return expand(value)


def _parsed(text: str) -> JSON:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _plan_action(handler: EventHandler, index: int, a: EventAction, m: EventMessage) -> Planned:
    payload = expand(m.payload) if a.expand_inline_json else m.payload
    if a.action is ActionType.START_WORKFLOW:
        return _start(handler, index, a.params or {}, payload, m)
    if a.action in (ActionType.COMPLETE_TASK, ActionType.FAIL_TASK):
        status = TaskStatus.COMPLETED if a.action is ActionType.COMPLETE_TASK else TaskStatus.FAILED
        return _task(handler, index, a, status, payload, m)
    reason = f"Action not supported {a.action.value} for event {m.event}"
    return NotRun(handler.name, index, a.action.value, reason)


def _start(
    h: EventHandler, index: int, params: Mapping[str, JSON], payload: JSON, m: EventMessage
) -> Planned:
    workflow_input = _resolve(params.get("input") or {}, payload)
    if not isinstance(workflow_input, dict):
        return NotRun(h.name, index, "start_workflow", "its input is not a JSON object")
    workflow_input = {**workflow_input, MESSAGE_ID: m.message_id, EVENT_NAME: m.event}
    correlation = params.get("correlationId")
    if correlation is not None:
        resolved = _resolve(correlation, payload)
        correlation = None if resolved is None else to_text(resolved)
    domains = params.get("taskToDomain")
    if domains is None:
        found = _resolve("${taskToDomain}", payload)
        domains = found if isinstance(found, dict) else {}
    return StartRequest(
        handler=h.name,
        index=index,
        workflow_id=ids.event_workflow_id(h.name, m.event, m.message_id, index),
        name=str(params["name"]),
        version=params.get("version"),
        input=workflow_input,
        correlation_id=correlation,
        task_to_domain={str(k): to_text(v) for k, v in domains.items()},
    )


def _task(
    h: EventHandler, index: int, a: EventAction, status: TaskStatus, payload: JSON, m: EventMessage
) -> Planned:
    details: Mapping[str, JSON] = a.params or {}
    wanted: dict[str, JSON] = {
        key: details.get(key)
        for key in ("workflowId", "taskId", "taskRefName", "reasonForIncompletion")
    }
    wanted.update(details.get("output") or {})
    replaced = _resolve(wanted, payload)
    workflow_id, task_id, ref = (
        _text(replaced.get(k)) for k in ("workflowId", "taskId", "taskRefName")
    )
    if not task_id and not (workflow_id and ref):
        reason = (
            f"No task found with taskId: {task_id}, reference name: {ref}, "
            f"workflowId: {workflow_id}"
        )
        return NotRun(h.name, index, a.action.value, reason)
    reason_text = replaced.get("reasonForIncompletion")
    return TaskUpdate(
        handler=h.name,
        index=index,
        status=status,
        workflow_id=workflow_id,
        task_ref=None if task_id else ref,
        task_id=task_id,
        output={**replaced, MESSAGE_ID: m.message_id, EVENT_NAME: m.event},
        reason=None
        if status is TaskStatus.COMPLETED or reason_text is None
        else to_text(reason_text),
    )


def _text(value: JSON) -> str | None:
    return value if isinstance(value, str) and value else None


class _Whole:
    """Stands for ``"${$}"`` while the rest is resolved (so the payload is not resolved too)."""


_WHOLE = _Whole()


def _resolve(template: JSON, payload: JSON) -> JSON:
    """``${path}`` against the payload (Conductor's ParametersUtils.replace(map, json));
    ``"${$}"`` is the whole payload (Jayway reads ``$`` as the document)."""

    def lookup(root: str) -> JSON:
        if isinstance(payload, Mapping) and root in payload:
            return payload[root]
        return MISSING

    return _fill(resolve(_mark(template), lookup), payload)


def _mark(template: JSON) -> JSON:
    if isinstance(template, str):
        return _WHOLE if template.strip() == "${$}" else template
    if isinstance(template, dict):
        return {k: _mark(v) for k, v in template.items()}
    if isinstance(template, list):
        return [_mark(v) for v in template]
    return template


def _fill(value: JSON, payload: JSON) -> JSON:
    if value is _WHOLE:
        return payload
    if isinstance(value, dict):
        return {k: _fill(v, payload) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, payload) for v in value]
    return value
