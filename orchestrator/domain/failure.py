"""What Conductor records about a workflow's failures when it ends (pure helpers for decide and
react): the failed task names, the `failedWorkflow` its failure workflow receives, and the
task list of the current run those are computed over.

Conductor computes failedReferenceTaskNames / failedTaskNames at every end (completion and
termination alike) from the tasks of its task list that are FAILED or FAILED_WITH_TERMINAL_ERROR
(every attempt: a task that failed once and then completed is listed), adding them to what an
earlier end recorded (retry and restart keep the sets, rerun clears them).
"""

from __future__ import annotations

from orchestrator.domain.definitions import JSON
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus

FAILED_NAMED = frozenset({TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR})
FAILURE_WORKFLOW_KEY = "conductor.failure_workflow"  # the failed workflow's output key


def run_tasks(state: WorkflowState) -> list[TaskState]:
    """Conductor's task list of the current run: every attempt scheduled in this generation and
    the tasks an earlier generation left in view (kept by a rerun), in scheduling order. (Linear
    in the tasks kept: called once per workflow end.)"""
    in_view = set(state.by_ref.values())
    found = (
        t for t in state.tasks.values() if t.generation == state.generation or t.task_id in in_view
    )
    return sorted(found, key=lambda t: t.seq)


def failed_names(state: WorkflowState) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(failedReferenceTaskNames, failedTaskNames) as the workflow ends now, sorted."""
    refs = set(state.failed_ref_names or ())
    names = set(state.failed_task_names or ())
    for task in run_tasks(state):
        if task.status in FAILED_NAMED:
            refs.add(task.ref)
            names.add(task.name)
    return tuple(sorted(refs)), tuple(sorted(names))


def failed_workflow_json(state: WorkflowState) -> dict[str, JSON]:
    """The `failedWorkflow` a failure workflow gets in its input: Conductor's WorkflowModel JSON
    of the ended workflow as it was when the failure workflow started (so without its own
    `conductor.failure_workflow` output key). The definition is left out (name and version are
    here; the log has it): it would repeat it in the failure workflow's input."""
    output = state.output
    if isinstance(output, dict) and FAILURE_WORKFLOW_KEY in output:
        output = {k: v for k, v in output.items() if k != FAILURE_WORKFLOW_KEY}
    return {
        "workflowId": state.workflow_id,
        "workflowName": state.definition.name,
        "workflowVersion": state.definition.version,
        "status": str(state.status),
        "correlationId": state.correlation_id,
        "reasonForIncompletion": state.reason,
        "failedTaskId": state.failed_task_id,
        "failedReferenceTaskNames": list(state.failed_ref_names or ()),
        "failedTaskNames": list(state.failed_task_names or ()),
        "priority": state.priority,
        "taskToDomain": dict(state.task_to_domain),
        "parentWorkflowId": state.parent_workflow_id,
        "parentWorkflowTaskId": state.parent_task_id,
        "createTime": state.created_at,
        "updatedTime": state.updated_at,
        "endTime": state.ended_at,
        "input": state.input,
        "output": output,
        "variables": state.variables,
        "tasks": [_task_json(state, t) for t in run_tasks(state)],
    }


def _task_json(state: WorkflowState, task: TaskState) -> dict[str, JSON]:
    return {
        "taskId": task.task_id,
        "taskType": task.task_type,
        "taskDefName": task.name,
        "referenceTaskName": task.ref,
        "status": str(task.status),
        "inputData": task.input,
        "outputData": task.output,
        "reasonForIncompletion": task.reason,
        "retryCount": task.retry_count,
        "retriedTaskId": task.retried_task_id,
        "retried": task.retried,
        "executed": task.status.is_terminal,
        "seq": task.seq,
        "iteration": task.iteration,
        "pollCount": task.poll_count,
        "workerId": task.worker_id,
        "scheduledTime": task.scheduled_at,
        "startTime": task.started_at,
        "endTime": task.ended_at,
        "updateTime": task.updated_at,
        "startDelayInSeconds": task.start_delay_ms // 1000,
        "callbackAfterSeconds": task.callback_after_seconds,
        "subWorkflowId": task.child_workflow_id,
        "workflowInstanceId": state.workflow_id,
        "workflowType": state.definition.name,
        "correlationId": state.correlation_id,
    }
