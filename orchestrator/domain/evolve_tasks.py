"""evolve's appliers for task events (facts only, plus the derived indexes).

Each applier makes exactly one copy of the workflow state (stamping the event's seq and time in
the same copy): copying the ~31-field state is the dominant cost of evolve, so the indexes are
computed first and written together.
"""

from __future__ import annotations

from immutables import Map

from orchestrator.domain import events as ev
from orchestrator.domain import ids
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import TaskDef, TaskType
from orchestrator.domain.fastcopy import copier
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus

copy_state = copier(WorkflowState)
copy_task = copier(TaskState)
_JOINS = (TaskType.JOIN, TaskType.EXCLUSIVE_JOIN)


class InvalidLog(Exception):
    """The log is not a valid history (an event for a workflow that does not exist)."""


def _t(state: WorkflowState, task_id: str) -> TaskState:
    task = state.tasks.get(task_id)
    if task is None:
        raise InvalidLog(f"unknown task {task_id} in workflow {state.workflow_id}")
    return task


def _put(state: WorkflowState, e: ev.Event, task: TaskState) -> WorkflowState:
    """`state` after `e`, which changed only `task`."""
    tasks = state.tasks.set(task.task_id, task)
    return copy_state(state, seq=e.seq, updated_at=e.at, tasks=tasks)


def _scheduled(state: WorkflowState, e: ev.TaskScheduled) -> WorkflowState:
    previous = state.tasks.get(e.retried_task_id) if e.retried_task_id else None
    task = TaskState(
        task_id=e.task_id,
        ref=e.ref,
        definition_ref=e.definition_ref,
        name=e.name,
        task_type=e.task_type,
        kind=e.kind,
        status=e.status,
        input=e.input,
        task_def=e.task_def,
        seq=state.task_count + 1,
        generation=state.generation,
        scheduled_at=e.at,
        first_scheduled_at=previous.first_scheduled_at if previous else e.at,
        dispatched=e.dispatched,
        queued=e.dispatched and e.start_delay_ms == 0,
        start_delay_ms=e.start_delay_ms,
        retry_count=e.retry_count,
        retried_task_id=e.retried_task_id,
        iteration=e.iteration,
        optional=e.optional,
        started_at=e.at if e.status is TaskStatus.IN_PROGRESS else 0,
        updated_at=e.at,
        child_workflow_id=e.child_workflow_id,
        dynamic_task=e.dynamic_task,
        container_ref=e.container_ref,
    )
    tasks = state.tasks.set(e.task_id, task)
    if previous is not None:
        tasks = tasks.set(previous.task_id, copy_task(previous, retried=True))
    by_ref = state.by_ref.set(e.ref, e.task_id)
    join_waiting, awaited_by = state.join_waiting, state.awaited_by
    if e.kind in _JOINS:
        refs = _join_refs(task)
        open_refs = 0
        for ref in refs:
            awaited_by = awaited_by.set(ref, task.task_id)
            done_id = by_ref.get(ref)
            if done_id is None or not tasks[done_id].status.is_successful:
                open_refs += 1
        join_waiting = join_waiting.set(task.task_id, open_refs)
    return copy_state(
        state,
        seq=e.seq,
        updated_at=e.at,
        tasks=tasks,
        task_count=state.task_count + 1,
        open_count=state.open_count + (0 if e.status.is_terminal else 1),
        by_ref=by_ref,
        latest_iteration=state.latest_iteration.set(e.definition_ref, e.task_id),
        last_task_id=e.task_id,
        join_waiting=join_waiting,
        awaited_by=awaited_by,
    )


def _join_refs(join: TaskState) -> list[str]:
    """The refs a JOIN waits for: its `joinOn` input (static or set by a dynamic fork)."""
    join_on = join.input.get("joinOn") if isinstance(join.input, dict) else None
    return (
        [ids.loop_ref(str(r), join.iteration) for r in join_on] if isinstance(join_on, list) else []
    )


def _joins_after(state: WorkflowState, task: TaskState) -> Map[str, int]:
    """A task ended successfully: the JOIN waiting on it has one branch fewer to wait for."""
    join_id = state.awaited_by.get(task.ref)
    waiting = state.join_waiting.get(join_id) if join_id else None
    if join_id and waiting:
        return state.join_waiting.set(join_id, waiting - 1)
    return state.join_waiting


def _queued(state: WorkflowState, e: ev.TaskQueued) -> WorkflowState:
    return _put(state, e, copy_task(_t(state, e.task_id), queued=True))


def _picked_up(state: WorkflowState, e: ev.TaskPickedUp) -> WorkflowState:
    task = _t(state, e.task_id)
    task = copy_task(
        task,
        status=TaskStatus.IN_PROGRESS,
        poll_count=task.poll_count + 1,
        started_at=task.started_at or e.at,
        updated_at=e.at,
        worker_id=e.worker_id,
        queued=False,
        callback_after_seconds=0,
    )
    return _put(state, e, task)


def _progressed(state: WorkflowState, e: ev.TaskProgressed) -> WorkflowState:
    task = _t(state, e.task_id)
    open_count = state.open_count
    if task.status.is_terminal:  # reopened (retry of a sub-workflow, a rerun): open once more
        open_count += 1
        task = copy_task(task, reason=None, ended_at=0, generation=state.generation)
    task = copy_task(
        task,
        status=TaskStatus.IN_PROGRESS,
        poll_count=task.poll_count or 1,
        started_at=task.started_at or e.started_at or e.at,
        updated_at=e.at,
        output={**task.output, **e.output},
        logs=task.logs + e.logs,
        callback_after_seconds=e.callback_after_seconds,
        queued=False,
        worker_id=e.worker_id or task.worker_id,
    )
    tasks = state.tasks.set(task.task_id, task)
    return copy_state(state, seq=e.seq, updated_at=e.at, tasks=tasks, open_count=open_count)


def _postponed(state: WorkflowState, e: ev.TaskPostponed) -> WorkflowState:
    """Back to SCHEDULED, in its queue again at once or after the callback (TaskQueued)."""
    task = _t(state, e.task_id)
    task = copy_task(
        task,
        status=TaskStatus.SCHEDULED,
        poll_count=task.poll_count or 1,
        started_at=task.started_at or e.started_at or e.at,
        updated_at=e.at,
        output={**task.output, **e.output},
        logs=task.logs + e.logs,
        callback_after_seconds=e.callback_after_seconds,
        queued=e.callback_after_seconds <= 0,
        worker_id=e.worker_id or task.worker_id,
    )
    return _put(state, e, task)


def _ended_task(
    state: WorkflowState, e: ev.Event, task: TaskState, joins: bool = False
) -> WorkflowState:
    """`state` after `e` made `task` terminal (`joins`: successfully, for the JOIN counters)."""
    unsettled = state.unsettled
    if state.status is WorkflowStatus.PAUSED:
        unsettled = unsettled.add(task.task_id)
    return copy_state(
        state,
        seq=e.seq,
        updated_at=e.at,
        tasks=state.tasks.set(task.task_id, task),
        open_count=state.open_count - 1,
        unsettled=unsettled,
        join_waiting=_joins_after(state, task) if joins else state.join_waiting,
    )


def _completed(state: WorkflowState, e: ev.TaskCompleted) -> WorkflowState:
    task = _t(state, e.task_id)
    task = copy_task(
        task,
        status=TaskStatus.COMPLETED,
        output={**task.output, **e.output},
        logs=task.logs + e.logs,
        started_at=task.started_at or e.started_at or e.at,
        updated_at=e.at,
        ended_at=e.at,
        worker_id=e.worker_id or task.worker_id,
        poll_count=task.poll_count or (1 if task.dispatched else 0),
    )
    return _ended_task(state, e, task, joins=True)


def _failed(state: WorkflowState, e: ev.TaskFailed) -> WorkflowState:
    task = _t(state, e.task_id)
    task = copy_task(
        task,
        status=e.status,
        reason=e.reason,
        output={**task.output, **e.output},
        logs=task.logs + e.logs,
        started_at=task.started_at or e.started_at or 0,
        updated_at=e.at,
        ended_at=e.at,
        worker_id=e.worker_id or task.worker_id,
    )
    return _ended_task(state, e, task)


def _completed_with_errors(state: WorkflowState, e: ev.TaskCompletedWithErrors) -> WorkflowState:
    task = _t(state, e.task_id)
    changes: dict[str, object] = {"status": TaskStatus.COMPLETED_WITH_ERRORS}
    if e.output:
        changes["output"] = {**task.output, **e.output}
    if e.reason is not None:
        changes["reason"] = e.reason
    if not task.status.is_terminal:  # a JOIN ending so (an optional task's failure had ended)
        ended = copy_task(task, **changes, updated_at=e.at, ended_at=e.at)
        return _ended_task(state, e, ended, joins=True)
    task = copy_task(task, **changes)
    tasks = state.tasks.set(task.task_id, task)
    joins = _joins_after(state, task)
    return copy_state(state, seq=e.seq, updated_at=e.at, tasks=tasks, join_waiting=joins)


def _failure_permitted(state: WorkflowState, e: ev.TaskFailurePermitted) -> WorkflowState:
    """The task stays as it ended; the JOIN waiting on it has one branch fewer to wait for."""
    task = _t(state, e.task_id)
    return copy_state(state, seq=e.seq, updated_at=e.at, join_waiting=_joins_after(state, task))


def _canceled(state: WorkflowState, e: ev.TaskCanceled) -> WorkflowState:
    task = copy_task(
        _t(state, e.task_id),
        status=TaskStatus.CANCELED,
        reason=e.reason,
        updated_at=e.at,
        ended_at=e.at,
    )
    tasks = state.tasks.set(task.task_id, task)
    return copy_state(
        state, seq=e.seq, updated_at=e.at, tasks=tasks, open_count=state.open_count - 1
    )


def _skipped(state: WorkflowState, e: ev.TaskSkipped) -> WorkflowState:
    index = index_of(state.definition)
    spec = index.task(e.ref) or index.task(e.ref.rsplit("__", 1)[0])
    name = spec.name if spec else e.ref
    task = TaskState(
        task_id=e.task_id,
        ref=e.ref,
        definition_ref=spec.task_reference_name if spec else e.ref,
        name=name,
        task_type=name,
        kind=TaskType.SIMPLE,
        status=TaskStatus.SKIPPED,
        input=e.input,
        output=e.output,
        task_def=_skipped_def(name),
        seq=state.task_count + 1,
        generation=state.generation,
        scheduled_at=e.at,
        first_scheduled_at=e.at,
        dispatched=False,
        updated_at=e.at,
        ended_at=e.at,
    )
    return copy_state(
        state,
        seq=e.seq,
        updated_at=e.at,
        tasks=state.tasks.set(e.task_id, task),
        task_count=state.task_count + 1,
        by_ref=state.by_ref.set(e.ref, e.task_id),
        last_task_id=e.task_id,
        join_waiting=_joins_after(state, task),
    )


def _skipped_def(name: str) -> TaskDef:
    return TaskDef(name=name, retry_count=0, response_timeout_seconds=0)


def _iterations_removed(state: WorkflowState, e: ev.LoopIterationsRemoved) -> WorkflowState:
    """Drop finished loop iterations: O(removed tasks), the indexes stay consistent."""
    loop = _t(state, e.task_id)
    if isinstance(loop.output, dict) and e.output_keys:
        gone = set(e.output_keys)
        loop = copy_task(loop, output={k: v for k, v in loop.output.items() if k not in gone})
    tasks = state.tasks.set(loop.task_id, loop)
    by_ref, latest, unsettled = state.by_ref, state.latest_iteration, state.unsettled
    joins, awaited = state.join_waiting, state.awaited_by
    for task_id in e.removed_task_ids:
        task = tasks.get(task_id)
        if task is None:
            continue
        tasks = tasks.delete(task_id)
        if by_ref.get(task.ref) == task_id:
            by_ref = by_ref.delete(task.ref)
        if latest.get(task.definition_ref) == task_id:
            latest = latest.delete(task.definition_ref)
        if task_id in joins:
            joins = joins.delete(task_id)
            for ref in _join_refs(task):
                if awaited.get(ref) == task_id:
                    awaited = awaited.delete(ref)
        unsettled = unsettled.discard(task_id)
    return copy_state(
        state,
        seq=e.seq,
        updated_at=e.at,
        tasks=tasks,
        by_ref=by_ref,
        latest_iteration=latest,
        join_waiting=joins,
        awaited_by=awaited,
        unsettled=unsettled,
    )
