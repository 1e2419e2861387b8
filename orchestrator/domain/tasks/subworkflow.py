"""SUB_WORKFLOW: run a child workflow and wait for it.

Lifecycle (one task attempt = one child, id `ids.child_workflow_id(task id)`):

1. Scheduled IN_PROGRESS with Conductor's input: the resolved inputParameters plus
   `subWorkflowName`, `subWorkflowVersion` (pinned: "latest" is looked up now, so a retry runs
   the same version), `subWorkflowTaskToDomain`, `subWorkflowDefinition` (inline, as JSON) and
   `workflowInput` (the resolved inputParameters: the child's input).
2. `start` checks the child can run (definition found, supported task types); if not, the task
   FAILS at once with the reason (retries, `optional` apply). Otherwise it records
   TaskProgressed `{subWorkflowId}`, on which `effects` emits the child's StartWorkflow, keyed
   by the parent's root (a tree lives on one partition). A child start that still cannot run
   (e.g. its definition was deleted meanwhile) records the child as FAILED (`record_failed_child`)
   instead of a silent rejection, so the parent hears of it.
3. The child's end comes back as ChildWorkflowFinished (react.end_effects); decide checks it is
   the child of the current attempt. As Conductor's SubWorkflow: COMPLETED -> COMPLETED,
   FAILED -> FAILED, TIMED_OUT -> TIMED_OUT (both retried per the task's TaskDef, each retry a
   new child), TERMINATED -> CANCELED (not retried: the parent ends TERMINATED unless optional);
   the output is `subWorkflowId` plus the child's output.
4. Parent ends while the task is open: its TaskCanceled makes react terminate the child.
5. A rerun inside the child (rerun.py): the child's WorkflowRerun makes the parent reopen this
   task in place (TaskProgressed logged "Sub workflow <id> reran."), with no effect here.
6. Workflow retry with resumeSubworkflowTasks: a FAILED/TIMED_OUT task whose child ran is
   reopened (TaskProgressed with an empty output) and the child retried in place (RetryWorkflow,
   recursively), as Conductor does; the child reports to the same task again.
7. A retry of the child itself (by the API): its WorkflowRetried makes react send the parent a
   RetryWorkflow with `child_task_id`; the parent runs again (even after it TIMED_OUT), this
   task reopened in place (logged "Sub workflow <id> retried."), and so on up the tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain import commands
from orchestrator.domain import events as ev
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import (
    JSON,
    SubWorkflowParams,
    TaskType,
    WorkflowDef,
    WorkflowTask,
    effective_type,
)
from orchestrator.domain.definitions_json import parse_workflow_def, workflow_def_to_json
from orchestrator.domain.effects import Effect, EmitCommand
from orchestrator.domain.expressions import resolve
from orchestrator.domain.inputs import lookup_for
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.base import registered_kinds
from orchestrator.domain.tasks.common import BaseHandler

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.outcome import Rejected
    from orchestrator.domain.state import TaskState, WorkflowState

SUB_WORKFLOW_ID = "subWorkflowId"
_TASK_STATUS = {
    WorkflowStatus.COMPLETED: TaskStatus.COMPLETED,
    WorkflowStatus.FAILED: TaskStatus.FAILED,
    WorkflowStatus.TIMED_OUT: TaskStatus.TIMED_OUT,
    WorkflowStatus.TERMINATED: TaskStatus.CANCELED,
}


def startable_problem(definition: WorkflowDef) -> str | None:
    """Why a workflow of this definition cannot start here (decide_workflow's own check)."""
    if not definition.tasks:
        return f"workflow {definition.name} has no tasks"
    supported = registered_kinds()
    for ref, wt in index_of(definition).by_ref.items():
        if effective_type(wt) not in supported:
            return f"task {ref}: type {wt.type} is not supported yet"
    return None


def record_failed_child(c: Cascade, command: commands.StartWorkflow, reason: str) -> None:
    """A child workflow that cannot run is recorded as started and FAILED (with a placeholder
    definition when none was found), so react tells its parent; a rejection would not."""
    definition = command.definition or WorkflowDef(
        name=command.name, tasks=(), version=command.version or 0
    )
    c.emit(
        ev.WorkflowStarted,
        definition=definition,
        input=command.input,
        correlation_id=command.correlation_id,
        priority=command.priority,
        task_to_domain=command.task_to_domain,
        parent_workflow_id=command.parent_workflow_id,
        parent_task_id=command.parent_task_id,
    )
    c.end_workflow(WorkflowStatus.FAILED, reason, trigger_failure_workflow=False)


def _params(task: TaskState) -> dict[str, JSON]:
    return task.input if isinstance(task.input, dict) else {}


def _inline_definition(params: dict[str, JSON]) -> WorkflowDef | None:
    data = params.get("subWorkflowDefinition")
    return parse_workflow_def(data) if isinstance(data, dict) else None


def child_start(state: WorkflowState, task: TaskState, at: int) -> commands.StartWorkflow:
    """The StartWorkflow of `task`'s child, from the task's recorded input alone."""
    params = _params(task)
    inline = _inline_definition(params)
    child_input = params.get("workflowInput")
    task_to_domain = params.get("subWorkflowTaskToDomain")
    version = params.get("subWorkflowVersion")
    return commands.StartWorkflow(
        workflow_id=str(task.child_workflow_id),
        root_workflow_id=state.root_workflow_id,
        at=at,
        actor="engine",
        name=str(params.get("subWorkflowName")),
        version=version if isinstance(version, int) else None,
        definition=inline,
        input=child_input if isinstance(child_input, dict) else {},
        correlation_id=state.correlation_id,
        task_to_domain=task_to_domain if isinstance(task_to_domain, dict) else state.task_to_domain,
        parent_workflow_id=state.workflow_id,
        parent_task_id=task.task_id,
    )


def child_retry(state: WorkflowState, task: TaskState, at: int) -> commands.RetryWorkflow:
    return commands.RetryWorkflow(
        workflow_id=str(task.child_workflow_id),
        root_workflow_id=state.root_workflow_id,
        at=at,
        actor="engine",
        resume_subworkflow_tasks=True,
    )


class SubWorkflowHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.SUB_WORKFLOW,)
    initial_status = TaskStatus.IN_PROGRESS
    starts_child = True

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        params = resolved if isinstance(resolved, dict) else {}
        sub = wt.sub_workflow_param or SubWorkflowParams()
        inline = sub.workflow_definition
        lookup = lookup_for(c.state)
        name = inline.name if inline else resolve(sub.name, lookup)
        version = inline.version if inline else sub.version
        if version is None and isinstance(name, str) and name:
            latest = c.ctx.workflow_def(name, None)
            version = latest.version if latest else None
        task_to_domain = resolve(sub.task_to_domain, lookup) if sub.task_to_domain else None
        return {
            **params,
            "subWorkflowName": name,
            "subWorkflowVersion": version,
            "subWorkflowTaskToDomain": task_to_domain,
            "subWorkflowDefinition": workflow_def_to_json(inline) if inline else None,
            "workflowInput": params,
        }

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        problem = self._problem(c, task)
        if problem is not None:
            c.fail(task.task_id, problem)
            return
        c.emit(
            ev.TaskProgressed,
            task_id=task.task_id,
            output={SUB_WORKFLOW_ID: task.child_workflow_id},
        )

    def _problem(self, c: Cascade, task: TaskState) -> str | None:
        params = _params(task)
        definition = _inline_definition(params)
        if definition is None:
            name, version = params.get("subWorkflowName"), params.get("subWorkflowVersion")
            if not isinstance(name, str) or not name:
                return "subWorkflowParam.name is missing (or resolved to no name)"
            if not isinstance(version, int):
                return f"The Task {name} defined as a sub-workflow has no workflow definition available"
            definition = c.ctx.workflow_def(name, version)
            if definition is None:
                return f"No such workflow found by name: {name}, version: {version}"
        return startable_problem(definition)

    def effects(
        self, state: WorkflowState, task: TaskState, event: ev.Event | None
    ) -> tuple[Effect, ...]:
        if event is None:  # resume: restate the start of an open child (a duplicate is rejected)
            if task.status.is_terminal or SUB_WORKFLOW_ID not in _output(task):
                return ()
            return (EmitCommand(command=child_start(state, task, task.updated_at)),)
        if not isinstance(event, ev.TaskProgressed) or _reopened_by_child(event):
            return ()
        if SUB_WORKFLOW_ID in event.output:  # started
            return (EmitCommand(command=child_start(state, task, event.at)),)
        return (EmitCommand(command=child_retry(state, task, event.at)),)  # reopened

    def on_child_done(
        self, c: Cascade, task: TaskState, cmd: commands.ChildWorkflowFinished
    ) -> Rejected | None:
        from orchestrator.domain.outcome import Rejected, RejectionCode

        status = _TASK_STATUS.get(cmd.status)
        if status is None:
            return Rejected(RejectionCode.INVALID_REQUEST, f"child workflow is still {cmd.status}")
        child_output = cmd.output if isinstance(cmd.output, dict) else {}
        output = {SUB_WORKFLOW_ID: cmd.child_workflow_id, **child_output}
        if status is TaskStatus.COMPLETED:
            c.complete(task.task_id, output)
            return None
        params = _params(task)
        child = f"{params.get('subWorkflowName')}.{params.get('subWorkflowVersion')}/{cmd.child_workflow_id}"
        reason = f"Sub workflow {child} failure reason: {cmd.reason}"
        c.fail(task.task_id, reason, status=status, output=output)
        return None

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        resumable = task.status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT)
        if not (resume_subworkflow_tasks and resumable and SUB_WORKFLOW_ID in _output(task)):
            return False
        c.emit(ev.TaskProgressed, task_id=task.task_id, output={})
        return True


def _reopened_by_child(event: ev.TaskProgressed) -> bool:
    """The child was rerun or retried and already runs again (rerun.py and decide_workflow log
    it on the reopened task, as Conductor's updateAndPushParents does)."""
    return any(
        log.startswith("Sub workflow ") and log.endswith((" reran.", " retried."))
        for log in event.logs
    )


def _output(task: TaskState) -> dict[str, JSON]:
    return task.output if isinstance(task.output, dict) else {}
