"""react(state, event) -> effects, and resume(state) -> effects.

`react` is called with the state AFTER `event` was applied. Effects are at-least-once and
harmless when repeated (ADR 0002): dispatches are keyed by task id, timers are validated on
firing, a repeated StartWorkflow is rejected as ALREADY_EXISTS, a repeated ChildWorkflowFinished
or TerminateWorkflow is rejected by the receiver's decide.
"""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.effects import DispatchTask, Effect, EmitCommand, ScheduleTimer
from orchestrator.domain.failure import failed_workflow_json
from orchestrator.domain.inputs import start_delay_seconds
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.base import handler_for
from orchestrator.domain.timers import task_deadlines, workflow_deadline

_TASK_EVENTS = (
    ev.TaskScheduled,
    ev.TaskQueued,
    ev.TaskPickedUp,
    ev.TaskProgressed,
    ev.TaskPostponed,
)
_HANDED_OUT = (ev.TaskScheduled, ev.TaskQueued, ev.TaskPostponed)  # maybe to its queue now
_RUN_STARTS = (ev.WorkflowStarted, ev.WorkflowRestarted, ev.WorkflowRetried, ev.WorkflowRerun)
_ENDS = (ev.WorkflowCompleted, ev.WorkflowFailed, ev.WorkflowTerminated)


def react(state: WorkflowState, event: ev.Event) -> tuple[Effect, ...]:
    return (*_react(state, event), *_handler_effects(state, event))


def _handler_effects(state: WorkflowState, event: ev.Event) -> tuple[Effect, ...]:
    """The task type's own effects for an event about one of its tasks (e.g. a child start)."""
    task_id = getattr(event, "task_id", None)
    task = state.tasks.get(task_id) if isinstance(task_id, str) else None
    return () if task is None else handler_for(task.kind).effects(state, task, event)


def _react(state: WorkflowState, event: ev.Event) -> tuple[Effect, ...]:
    if isinstance(event, _TASK_EVENTS):
        task = state.tasks[event.task_id]
        effects: list[Effect] = []
        if isinstance(event, _HANDED_OUT) and _dispatchable(task):
            effects.append(dispatch(state, task))
        return (*effects, *task_timers(state, task))
    if isinstance(event, ev.WorkflowRerun):
        return (*workflow_timers(state), *_rerun_parent(state, event.at))
    if isinstance(event, ev.WorkflowRetried):
        return (*workflow_timers(state), *_retry_parent(state, event.at))
    if isinstance(event, _RUN_STARTS):
        return workflow_timers(state)
    if isinstance(event, ev.TaskCanceled):
        return _terminate_child(state, state.tasks[event.task_id], event.at)
    if isinstance(event, _ENDS):
        return end_effects(state, event.at)
    return ()


def resume(state: WorkflowState) -> tuple[Effect, ...]:
    """Everything that may be outstanding after a restart of the runtime (all idempotent)."""
    tasks = sorted((state.tasks[tid] for tid in state.by_ref.values()), key=lambda t: t.seq)
    effects: list[Effect] = []
    if state.is_terminal:
        effects.extend(end_effects(state, state.ended_at))
        for task in tasks:
            if task.status is TaskStatus.CANCELED:
                effects.extend(_terminate_child(state, task, state.ended_at))
        return tuple(effects)
    for task in tasks:
        if task.status.is_terminal:
            continue
        if _dispatchable(task):
            effects.append(dispatch(state, task))
        effects.extend(task_timers(state, task))
        effects.extend(handler_for(task.kind).effects(state, task, None))
    effects.extend(workflow_timers(state))
    return tuple(effects)


def _dispatchable(task: TaskState) -> bool:
    return task.dispatched and task.queued and not task.status.is_terminal


def task_timers(state: WorkflowState, task: TaskState) -> tuple[Effect, ...]:
    return tuple(
        ScheduleTimer(
            due_at=due,
            kind=kind,
            workflow_id=state.workflow_id,
            root_workflow_id=state.root_workflow_id,
            task_id=task.task_id,
        )
        for kind, due in task_deadlines(state, task)
    )


def workflow_timers(state: WorkflowState) -> tuple[Effect, ...]:
    due = workflow_deadline(state)
    if due is None:
        return ()
    return (
        ScheduleTimer(
            due_at=due,
            kind=cmd.TimerKind.WORKFLOW_TIMEOUT,
            workflow_id=state.workflow_id,
            root_workflow_id=state.root_workflow_id,
        ),
    )


def dispatch(state: WorkflowState, task: TaskState) -> DispatchTask:
    td = task.task_def
    domains = state.task_to_domain
    return DispatchTask(
        task_id=task.task_id,
        task_type=task.task_type,
        reference_task_name=task.ref,
        task_def_name=task.name,
        input_data=task.input,
        workflow_instance_id=state.workflow_id,
        root_workflow_id=state.root_workflow_id,
        workflow_type=state.definition.name,
        workflow_version=state.definition.version,
        correlation_id=state.correlation_id,
        retry_count=task.retry_count,
        poll_count=task.poll_count,
        seq=task.seq,
        scheduled_time=task.scheduled_at,
        start_delay_in_seconds=start_delay_seconds(
            task.start_delay_ms, task.task_def, task.retried_task_id
        ),
        response_timeout_seconds=td.response_timeout_seconds,
        callback_after_seconds=task.callback_after_seconds,
        domain=domains.get(task.name) or domains.get("*"),
        workflow_priority=state.priority,
        iteration=task.iteration,
        retried_task_id=task.retried_task_id,
        timeout_seconds=td.timeout_seconds,
        rate_limit_per_frequency=td.rate_limit_per_frequency,
        rate_limit_frequency_in_seconds=td.rate_limit_frequency_in_seconds,
        concurrent_exec_limit=td.concurrent_exec_limit,
    )


def _terminate_child(state: WorkflowState, task: TaskState, at: int) -> tuple[Effect, ...]:
    if task.child_workflow_id is None:
        return ()
    # Conductor's SubWorkflow.cancel: the parent's reason (the one its tasks were canceled with)
    reason = (
        f"Parent workflow has been terminated with reason: {task.reason}"
        if task.reason
        else f"Parent workflow has been terminated with status {state.status}"
    )
    command = cmd.TerminateWorkflow(
        workflow_id=task.child_workflow_id,
        root_workflow_id=state.root_workflow_id,
        at=at,
        actor="engine",
        reason=reason,
    )
    return (EmitCommand(command=command),)


def _rerun_parent(state: WorkflowState, at: int) -> tuple[Effect, ...]:
    """A child workflow was rerun: its parent reopens the task waiting for it (Conductor's
    updateAndPushParents), which reruns the parent in turn, up the tree."""
    if not (state.parent_workflow_id and state.parent_task_id):
        return ()
    command = cmd.RerunWorkflow(
        workflow_id=state.parent_workflow_id,
        root_workflow_id=state.root_workflow_id,
        at=at,
        actor="engine",
        from_task_id=state.parent_task_id,
        rerun_child_id=state.workflow_id,
    )
    return (EmitCommand(command=command),)


def _retry_parent(state: WorkflowState, at: int) -> tuple[Effect, ...]:
    """A child workflow was retried: its parent runs again, its task waiting for this child
    (Conductor's updateAndPushParents), up the tree. When the parent itself retried the child
    (resumeSubworkflowTasks) its task is open already and it rejects this: harmless."""
    if not (state.parent_workflow_id and state.parent_task_id):
        return ()
    command = cmd.RetryWorkflow(
        workflow_id=state.parent_workflow_id,
        root_workflow_id=state.root_workflow_id,
        at=at,
        actor="engine",
        child_task_id=state.parent_task_id,
    )
    return (EmitCommand(command=command),)


def end_effects(state: WorkflowState, at: int) -> tuple[Effect, ...]:
    """A workflow ended: notify its parent, start its failure workflow."""
    effects: list[Effect] = []
    if state.parent_workflow_id and state.parent_task_id:
        finished = cmd.ChildWorkflowFinished(
            workflow_id=state.parent_workflow_id,
            root_workflow_id=state.root_workflow_id,
            at=at,
            actor="engine",
            parent_task_id=state.parent_task_id,
            child_workflow_id=state.workflow_id,
            status=state.status,
            output=state.output,
            reason=state.reason,
        )
        effects.append(EmitCommand(command=finished))
    if state.failure_workflow_id and state.definition.failure_workflow:
        effects.append(EmitCommand(command=_failure_start(state, at)))
    return tuple(effects)


def _failure_start(state: WorkflowState, at: int) -> cmd.StartWorkflow:
    """Conductor's terminateWorkflow: the failed workflow's input plus workflowId, reason,
    failureStatus, failureTaskId (when a task ended it) and failedWorkflow (the workflow as
    JSON); its correlationId and taskToDomain."""
    base = state.input if isinstance(state.input, dict) else {}
    failure_input = {
        **base,
        "workflowId": state.workflow_id,
        "reason": state.reason,
        "failureStatus": str(state.status),
        **({"failureTaskId": state.failed_task_id} if state.failed_task_id else {}),
        "failedWorkflow": failed_workflow_json(state),
    }
    return cmd.StartWorkflow(
        workflow_id=str(state.failure_workflow_id),
        at=at,
        actor="engine",
        name=str(state.definition.failure_workflow),
        input=failure_input,
        correlation_id=state.correlation_id,
        task_to_domain=dict(state.task_to_domain),
    )


__all__ = ["dispatch", "end_effects", "react", "resume"]
