"""Domain events -> row operations on the read model (pure: no I/O, no psycopg).

One small function per event type turns an event into ``RowOp``s: the name of a statement in
statements.py and its parameters. JSON parameters are wrapped in ``J`` so the runner knows to
send them as jsonb. The runner (apply.py) executes the ops of a batch in order, in one
transaction, and only for events whose ``events`` row was new (ADR 0005).

Every event type has a case, an empty list where the event changes no row (it is still kept in
the ``events`` history and still advances the workflow's ``last_seq``). A type with no case is
a programming error, ``UnknownEvent``, caught by tests/unit/test_projection_handlers.py for
every type in ``EVENT_TYPES``: an event the engine adds can never be dropped silently.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.definitions_json import task_def_to_json, workflow_def_to_json

JSON = Any
_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(ev.EventBase))
_LOOP_SUFFIX = re.compile(r"^(.*)__\d+$")


class UnknownEvent(TypeError):
    """An event type with no case here (only a new type nobody wired in can raise it)."""


@dataclass(frozen=True, slots=True)
class J:
    """A JSON value to be stored as jsonb."""

    value: JSON


@dataclass(frozen=True, slots=True)
class RowOp:
    statement: str  # a key of statements.SQL
    params: Mapping[str, Any]


# --- JSON renderings ----------------------------------------------------------------------


def workflow_task_json(task: WorkflowTask) -> dict[str, JSON]:
    """Conductor JSON of one WorkflowTask (rendered through a one-task definition)."""
    rendered: dict[str, JSON] = workflow_def_to_json(WorkflowDef(name="_", tasks=(task,)))
    return dict(rendered["tasks"][0])


def to_json(value: Any) -> JSON:
    """A domain value as plain JSON: definitions in Conductor's JSON, enums as their value."""
    if isinstance(value, WorkflowDef):
        return workflow_def_to_json(value)
    if isinstance(value, TaskDef):
        return task_def_to_json(value)
    if isinstance(value, WorkflowTask):
        return workflow_task_json(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def event_data(event: ev.EventBase) -> dict[str, JSON]:
    """The event's own fields (not the header ones, which are columns of ``events``)."""
    return {
        f.name: to_json(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name not in _BASE_FIELDS
    }


def event_row(event: ev.EventBase, topic: str, partition: int, offset: int) -> dict[str, Any]:
    return {
        "workflow_id": event.workflow_id,
        "seq": event.seq,
        "root_workflow_id": event.root_workflow_id or event.workflow_id,
        "type": type(event).__name__,
        "at": event.at,
        "actor": event.actor,
        "data": J(event_data(event)),
        "topic": topic,
        "kafka_partition": partition,
        "kafka_offset": offset,
    }


# --- events -> row operations ---------------------------------------------------------------


def _head(e: ev.EventBase) -> dict[str, Any]:
    return {"workflow_id": e.workflow_id, "seq": e.seq, "at": e.at}


def _op(statement: str, e: ev.EventBase, **params: Any) -> RowOp:
    return RowOp(statement, {**_head(e), **params})


def ops_for(event: ev.EventBase) -> list[RowOp]:
    """The row operations of one event, in the order they must run."""
    match event:
        case ev.WorkflowStarted():
            return [_started(event)]
        case ev.WorkflowRestarted():
            return [
                _op("tasks_retire_all", event),
                _op(
                    "workflow_restart",
                    event,
                    definition=J(to_json(event.definition)),
                    workflow_type=event.definition.name,
                    version=event.definition.version,
                    input=J(event.input),
                    correlation_id=event.correlation_id,
                    variables=J(event.definition.variables),
                ),
            ]
        case ev.WorkflowRetried():
            return [_op("workflow_retried", event)]
        case ev.WorkflowRerun() if event.retired_listed:
            return [
                _op("tasks_retire_ids", event, task_ids=list(event.retired_task_ids)),
                _op("workflow_rerun", event, input=J(event.input)),
            ]
        case ev.WorkflowRerun():  # older logs: the seq rule
            return [
                _op("tasks_retire_from", event, from_task_id=event.from_task_id),
                _op("workflow_rerun", event, input=J(event.input)),
            ]
        case ev.WorkflowPaused():
            return [_op("workflow_status", event, status="PAUSED")]
        case ev.WorkflowResumed():
            return [_op("workflow_status", event, status="RUNNING")]
        case ev.WorkflowCompleted():
            return [
                _op(
                    "workflow_completed",
                    event,
                    output=J(event.output),
                    reason=event.reason,
                    **_names(event),
                )
            ]
        case ev.WorkflowFailed():
            return [
                _op(
                    "workflow_failed",
                    event,
                    status=event.status.value,
                    reason=event.reason,
                    output=J(event.output),
                    failed_task_id=event.failed_task_id,
                    failure_workflow_id=event.failure_workflow_id,
                    **_names(event),
                )
            ]
        case ev.WorkflowTerminated():
            return [
                _op(
                    "workflow_terminated",
                    event,
                    reason=event.reason,
                    output=J(event.output),
                    failure_workflow_id=event.failure_workflow_id,
                    failed_task_id=event.failed_task_id,
                    **_names(event),
                )
            ]
        case ev.VariablesUpdated():
            return [_op("workflow_variables", event, variables=J(event.variables))]
        case _:
            return _task_ops(event)


def _names(e: ev.WorkflowCompleted | ev.WorkflowFailed | ev.WorkflowTerminated) -> dict[str, Any]:
    """An end event's failed task names as text[] parameters (None: older event, unchanged)."""
    if e.failed_ref_names is None:
        return {"failed_ref_names": None, "failed_task_names": None}
    return {
        "failed_ref_names": list(e.failed_ref_names),
        "failed_task_names": list(e.failed_task_names or ()),
    }


def _task_ops(event: ev.EventBase) -> list[RowOp]:
    match event:
        case ev.TaskScheduled():
            return _scheduled(event)
        case ev.TaskQueued():
            return []  # a queue hand-off changes no Conductor field; kept in the history
        case ev.TaskPickedUp():
            return [_op("task_picked_up", event, task_id=event.task_id, worker_id=event.worker_id)]
        case ev.TaskProgressed() | ev.TaskPostponed():
            statement = (
                "task_progressed" if isinstance(event, ev.TaskProgressed) else "task_postponed"
            )
            return [
                _op(
                    statement,
                    event,
                    task_id=event.task_id,
                    output=J(event.output),
                    logs=J(list(event.logs)),
                    callback_after_seconds=event.callback_after_seconds,
                    worker_id=event.worker_id,
                    started_at=event.started_at,
                )
            ]
        case ev.TaskCompleted():
            return [
                _op(
                    "task_completed",
                    event,
                    task_id=event.task_id,
                    output=J(event.output),
                    logs=J(list(event.logs)),
                    worker_id=event.worker_id,
                    started_at=event.started_at,
                )
            ]
        case ev.TaskFailed():
            return [
                _op(
                    "task_failed",
                    event,
                    task_id=event.task_id,
                    status=event.status.value,
                    reason=event.reason,
                    output=J(event.output),
                    logs=J(list(event.logs)),
                    worker_id=event.worker_id,
                    started_at=event.started_at,
                )
            ]
        case ev.TaskCompletedWithErrors():
            return [
                _op(
                    "task_completed_with_errors",
                    event,
                    task_id=event.task_id,
                    output=J(event.output),
                    reason=event.reason,
                )
            ]
        case ev.TaskFailurePermitted():
            return []  # the task row keeps its status; kept in the history
        case ev.TaskCanceled():
            return [_task_status(event, event.task_id, "CANCELED", event.reason or None)]
        case ev.TaskSkipped():
            return _skipped(event)
        case ev.LoopIterationsRemoved():
            return []  # keepLastN: the read model keeps those iterations' rows as they were
        case _:
            raise UnknownEvent(
                f"projections/handlers.py has no case for {type(event).__name__}: "
                "every event type needs one (an empty list if it changes no row)"
            )


def _started(e: ev.WorkflowStarted) -> RowOp:
    return _op(
        "workflow_insert",
        e,
        root_workflow_id=e.root_workflow_id or e.workflow_id,
        parent_workflow_id=e.parent_workflow_id,
        parent_task_id=e.parent_task_id,
        workflow_type=e.definition.name,
        version=e.definition.version,
        correlation_id=e.correlation_id,
        priority=e.priority,
        idempotency_key=e.idempotency_key,
        input=J(e.input),
        variables=J(e.definition.variables),
        task_to_domain=J(dict(e.task_to_domain)),
        definition=J(to_json(e.definition)),
    )


def _scheduled(e: ev.TaskScheduled) -> list[RowOp]:
    insert = _op(
        "task_insert",
        e,
        task_id=e.task_id,
        ref=e.ref,
        definition_ref=e.definition_ref,
        name=e.name,
        task_type=e.task_type,
        kind=e.kind,
        status=e.status.value,
        input=J(e.input),
        retry_count=e.retry_count,
        retried_task_id=e.retried_task_id,
        iteration=e.iteration,
        optional=e.optional,
        dispatched=e.dispatched,
        start_delay_ms=e.start_delay_ms,
        child_workflow_id=e.child_workflow_id,
        task_def=J(to_json(e.task_def)),
        workflow_task=None if e.dynamic_task is None else J(to_json(e.dynamic_task)),
        start_time=e.at if e.status.value == "IN_PROGRESS" else None,
    )
    ops = [_op("task_count_increment", e), insert]
    if e.retried_task_id:
        ops.append(_op("task_mark_retried", e, retried_task_id=e.retried_task_id))
    return ops


def _task_status(e: ev.EventBase, task_id: str, status: str, reason: str | None) -> RowOp:
    return _op("task_status", e, task_id=task_id, status=status, reason=reason)


def _skipped(e: ev.TaskSkipped) -> list[RowOp]:
    suffixed = _LOOP_SUFFIX.match(e.ref)
    return [
        _op("task_count_increment", e),
        _op(
            "task_skipped",
            e,
            task_id=e.task_id,
            ref=e.ref,
            definition_ref=suffixed[1] if suffixed else e.ref,
            input=J(e.input),
            output=J(e.output),
        ),
    ]


def ops_for_batch(events: Iterable[ev.EventBase]) -> list[RowOp]:
    """The ops of every event in order, then one touch per workflow (its last seq and time)."""
    ops: list[RowOp] = []
    last: dict[str, ev.EventBase] = {}
    for event in events:
        ops.extend(ops_for(event))
        seen = last.get(event.workflow_id)
        if seen is None or event.seq > seen.seq:
            last[event.workflow_id] = event
    ops.extend(_op("workflow_touch", e) for e in last.values())
    return ops
