"""Task inputs, effective task settings and the expression lookup over a workflow state."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from orchestrator.domain.context import Context
from orchestrator.domain.definitions import JSON, TaskDef, TaskType, WorkflowTask, effective_type
from orchestrator.domain.expressions import MISSING, Lookup, resolve
from orchestrator.domain.retry import jitter_ms
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus


@lru_cache(maxsize=1024)
def _implicit_task_def(name: str, retry_count: int) -> TaskDef:
    """One (frozen) object per name and retry count, shared by every task that uses it: the
    state changelog then pickles it once (engine/statecodec.py), and states stay smaller."""
    return TaskDef(name=name, retry_count=retry_count, response_timeout_seconds=0)


@lru_cache(maxsize=1024)
def _default_task_def(name: str, retry_count: int | None) -> TaskDef:
    if retry_count is None:
        return TaskDef(name=name)
    return TaskDef(name=name, retry_count=retry_count)


def effective_task_def(ctx: Context, wt: WorkflowTask) -> TaskDef:
    """The TaskDef this attempt runs under (inline > registered), retryCount override applied.

    Without any TaskDef (typical for system tasks) nothing is retried and no timeout applies,
    as in Conductor.
    """
    found = wt.task_definition or ctx.task_def(wt.name)
    if found is None:
        if effective_type(wt) is TaskType.SIMPLE:
            # A worker task nobody registered runs under Conductor's default TaskDef (3
            # retries 60 s apart, response timeout 3600 s), as the real server does.
            return _default_task_def(wt.name, wt.retry_count)
        return _implicit_task_def(wt.name, wt.retry_count or 0)
    if wt.retry_count is not None and wt.retry_count != found.retry_count:
        return replace(found, retry_count=wt.retry_count)
    return found


def workflow_doc(state: WorkflowState) -> dict[str, JSON]:
    return {
        "input": state.input,
        "output": state.output,
        "variables": state.variables,
        "workflowId": state.workflow_id,
        "correlationId": state.correlation_id,
        "workflowType": state.definition.name,
        "version": state.definition.version,
        "status": str(state.status),
        "parentWorkflowId": state.parent_workflow_id,
        "parentWorkflowTaskId": state.parent_task_id,
        "priority": state.priority,
        "createTime": state.created_at,
        "startTime": state.started_at,
        "taskToDomain": state.task_to_domain,
        "reasonForIncompletion": state.reason,
    }


def task_doc(task: TaskState) -> dict[str, JSON]:
    return {
        "input": task.input,
        "output": task.output,
        "status": str(task.status),
        "taskId": task.task_id,
        "retryCount": task.retry_count,
        "referenceTaskName": task.ref,
        "taskType": task.task_type,
        "taskDefName": task.name,
        "seq": task.seq,
        "pollCount": task.poll_count,
        "iteration": conductor_iteration(task),
        "scheduledTime": task.scheduled_at,
        "startTime": task.started_at,
        "endTime": task.ended_at,
        "updateTime": task.updated_at,
        "reasonForIncompletion": task.reason,
        "workerId": task.worker_id,
        "callbackAfterSeconds": conductor_callback(task),
    }


def conductor_iteration(task: TaskState) -> int:
    """Conductor's `iteration` of a task: a DO_WHILE's is the iteration it runs (its output's
    `iteration`), any other task's the loop iteration it belongs to."""
    if task.kind == TaskType.DO_WHILE and isinstance(task.output, dict):
        current = task.output.get("iteration")
        if isinstance(current, int) and not isinstance(current, bool):
            return current
    return task.iteration


def conductor_callback(task: TaskState) -> int:
    """Conductor's `callbackAfterSeconds`: a task waiting out its start or retry delay shows
    the delay (its mappers and retry set both fields); else the worker's last callback."""
    if task.status is TaskStatus.SCHEDULED and not task.started_at and task.start_delay_ms:
        return start_delay_seconds(task.start_delay_ms, task.task_def, task.retried_task_id)
    return task.callback_after_seconds


def start_delay_seconds(delay_ms: int, task_def: TaskDef, retried_task_id: str | None) -> int:
    """Conductor's `startDelayInSeconds`: the delay in seconds without the retry's jitter (its
    jitter only postpones the queue message; here it is part of the delay, see retry.py)."""
    if retried_task_id is not None:
        delay_ms -= jitter_ms(task_def, retried_task_id)
    return max(0, delay_ms) // 1000


CURRENT_TASK_ID = "CPEWF_TASK_ID"  # Conductor's system parameter: the id of the task resolved


def lookup_for(state: WorkflowState, task_id: str | None = None) -> Lookup:
    """Builds only the one root document an expression names, on demand. With `task_id` (the
    input of that task is being resolved), `${CPEWF_TASK_ID}` is that id, as Conductor's
    ParametersUtils serves it (before any task of that name)."""

    def lookup(root: str) -> JSON:
        if root == "workflow":
            return workflow_doc(state)
        if root == CURRENT_TASK_ID and task_id is not None:
            return task_id
        task = state.lookup_ref(root)
        return MISSING if task is None else task_doc(task)

    return lookup


def resolve_input(
    state: WorkflowState, wt: WorkflowTask, task_def: TaskDef, task_id: str | None = None
) -> JSON:
    """`wt`'s inputParameters (over its TaskDef's inputTemplate) resolved for task `task_id`."""
    template = wt.input_parameters
    if task_def.input_template:
        template = {**task_def.input_template, **wt.input_parameters}
    return resolve(template, lookup_for(state, task_id))


def retry_input(
    state: WorkflowState, wt: WorkflowTask, task_def: TaskDef, task_id: str, previous: JSON
) -> JSON:
    """The input of a new attempt: the previous attempt's, with the inputParameters resolved
    again for the new task over it (Conductor's DeciderService.retry and taskToBeRescheduled:
    `addInput(getTaskInputV2(...))`), so `${CPEWF_TASK_ID}` is the new attempt's id."""
    resolved = resolve_input(state, wt, task_def, task_id)
    if isinstance(previous, dict) and isinstance(resolved, dict):
        return {**previous, **resolved}
    return previous


def workflow_output(state: WorkflowState, task: TaskState | None = None) -> JSON:
    """Conductor's updateWorkflowOutput: outputParameters resolved, else the output of `task`
    (the failed task, when a task failure ends the workflow), else of the last task in the
    workflow's task list (the newest record, `last_task_id`)."""
    params = state.definition.output_parameters
    if params is not None:
        return resolve(params, lookup_for(state))
    if task is None and state.last_task_id is not None:
        task = state.tasks.get(state.last_task_id)
    return task.output if task is not None else {}


def workflow_input(state_input: JSON, template: dict[str, JSON]) -> JSON:
    if template and isinstance(state_input, dict):
        return {**template, **state_input}
    return state_input
