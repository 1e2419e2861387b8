"""START_WORKFLOW: start another workflow and go on at once (fire and forget).

`inputParameters.startWorkflow` is a Conductor StartWorkflowRequest: `name` (required),
`version` (absent = latest when the new workflow starts), `input`, `correlationId` (default: this
workflow's), `taskToDomain` (default: this workflow's), `priority`, `workflowDef` (inline).
The task checks the request and that the definition exists, then COMPLETES with
`{workflowId}`; the id is derived from the task id (`ids.child_workflow_id`), so a replay or a
re-decision after a crash names the same workflow and a repeated start is rejected as
ALREADY_EXISTS. On the TaskCompleted `effects` emits the StartWorkflow of a NEW ROOT workflow
(no parent, its own Kafka key): its end is not reported back and terminating this workflow
does not touch it. A bad request FAILS the task with Conductor's reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.domain import commands, ids
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import JSON, TaskType, WorkflowDef, WorkflowTask
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.effects import Effect, EmitCommand
from orchestrator.domain.tasks.common import BaseHandler
from orchestrator.domain.tasks.subworkflow import startable_problem

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState, WorkflowState

PARAM = "startWorkflow"
WORKFLOW_ID = "workflowId"


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    version: int | None
    input: dict[str, JSON]
    correlation_id: str | None
    task_to_domain: dict[str, str] | None
    priority: int
    definition: WorkflowDef | None


def read_request(task_input: JSON) -> Request | str:
    """The StartWorkflowRequest in a task input, or why it is invalid (Conductor's words)."""
    raw = task_input.get(PARAM) if isinstance(task_input, dict) else None
    if raw is None:
        return f"Missing '{PARAM}' in input data."
    if not isinstance(raw, dict):
        return f"Error reading StartWorkflowRequest. '{PARAM}' must be an object"
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        return f"{PARAM} validation failed. 'name' -> Workflow name cannot be null or empty. "
    try:
        return _request(raw, name)
    except ValueError as error:  # DefinitionError is one
        return f"Error reading StartWorkflowRequest. {error}"


def _request(raw: dict[str, JSON], name: str) -> Request:
    version, priority = _int(raw, "version"), _int(raw, "priority") or 0
    if not 0 <= priority <= 99:
        raise ValueError(f"'priority' must be within 0..99, got {priority}")
    inline = raw.get("workflowDef")
    definition = parse_workflow_def(inline) if isinstance(inline, dict) else None
    data, correlation, domains = raw.get("input"), raw.get("correlationId"), raw.get("taskToDomain")
    return Request(
        name=definition.name if definition else name,
        version=definition.version if definition else version,
        input=data if isinstance(data, dict) else {},
        correlation_id=correlation
        if isinstance(correlation, str) and correlation.strip()
        else None,
        task_to_domain=(
            {str(k): str(v) for k, v in domains.items()}
            if isinstance(domains, dict) and domains
            else None
        ),
        priority=priority,
        definition=definition,
    )


def _int(raw: dict[str, JSON], key: str) -> int | None:
    """An integer field as Jackson reads it (null = absent, "2" -> 2)."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"'{key}' must be an integer, got {value!r}")


def started_workflow(
    state: WorkflowState, task: TaskState, at: int
) -> commands.StartWorkflow | None:
    """The StartWorkflow a completed START_WORKFLOW task asked for (a new root workflow)."""
    request = read_request(task.input)
    if isinstance(request, str):
        return None
    return commands.StartWorkflow(
        workflow_id=ids.child_workflow_id(task.task_id),
        at=at,
        actor="engine",
        name=request.name,
        version=request.version,
        definition=request.definition,
        input=request.input,
        correlation_id=request.correlation_id or state.correlation_id,
        priority=request.priority,
        task_to_domain=(
            state.task_to_domain if request.task_to_domain is None else request.task_to_domain
        ),
    )


class StartWorkflowHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.START_WORKFLOW,)

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        request = read_request(task.input)
        problem = request if isinstance(request, str) else self._problem(c, request)
        if problem is not None:
            c.fail(task.task_id, problem)
            return
        c.complete(task.task_id, {WORKFLOW_ID: ids.child_workflow_id(task.task_id)})

    def _problem(self, c: Cascade, request: Request) -> str | None:
        definition = request.definition or c.ctx.workflow_def(request.name, request.version)
        if definition is None:
            version = "latest" if request.version is None else request.version
            return f"No such workflow found by name: {request.name}, version: {version}"
        return startable_problem(definition)

    def effects(
        self, state: WorkflowState, task: TaskState, event: ev.Event | None
    ) -> tuple[Effect, ...]:
        if not isinstance(event, ev.TaskCompleted):
            return ()
        start = started_workflow(state, task, event.at)
        return () if start is None else (EmitCommand(command=start),)
