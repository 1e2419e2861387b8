"""The cascade: one decision's working copy. Rules emit events through it; every event is
evolved into the copy at once, so later rules see earlier facts and the events decide returns
fold to exactly the state decide worked on (live == replay by construction)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

from orchestrator.domain import ending, ids
from orchestrator.domain.commands import Command
from orchestrator.domain.context import Context
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask, effective_type
from orchestrator.domain.events import (
    Event,
    EventBase,
    TaskCompleted,
    TaskCompletedWithErrors,
    TaskFailed,
    TaskFailurePermitted,
    TaskScheduled,
)
from orchestrator.domain.evolve import evolve
from orchestrator.domain.inputs import (
    effective_task_def,
    resolve_input,
    retry_input,
    workflow_output,
)
from orchestrator.domain.permissive import is_permissive, permitted
from orchestrator.domain.retry import retry_delay_ms
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.base import handler_for

E = TypeVar("E", bound=EventBase)


class DecisionTooLarge(Exception):
    """One decision emitted more events than `Context.max_decision_events` allows."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


# Conductor never retries its built-in control-flow tasks (TaskType.isBuiltIn).
NOT_RETRIED = frozenset(
    {
        TaskType.SWITCH,
        TaskType.DECISION,
        TaskType.FORK_JOIN,
        TaskType.JOIN,
        TaskType.EXCLUSIVE_JOIN,
        TaskType.DO_WHILE,
    }
)


class Cascade:
    def __init__(self, state: WorkflowState | None, command: Command, ctx: Context) -> None:
        self._state = state
        self.command = command
        self.ctx = ctx
        self.events: list[Event] = []
        self.states: list[WorkflowState] = []  # the state after each event (the processor's)
        self._root = state.root_workflow_id if state else command.root
        # Queued work, in order: the consequences of a task's end (a task id, see `settle`), or
        # a step a task type runs after the current scheduling (`later`).
        self._to_settle: deque[str | Callable[[], None]] = deque()

    @property
    def state(self) -> WorkflowState:
        assert self._state is not None, "no workflow yet"
        return self._state

    @property
    def at(self) -> int:
        return self.command.at

    def emit(self, cls: type[E], **fields: Any) -> E:
        if len(self.events) >= self.ctx.max_decision_events:
            raise DecisionTooLarge(len(self.events))
        event = cls(
            workflow_id=self.command.workflow_id,
            root_workflow_id=self._root,
            seq=self._state.seq + 1 if self._state else 1,
            at=self.command.at,
            actor=self.command.actor,
            **fields,
        )
        self._state = evolve(self._state, cast(Event, event))
        self.events.append(cast(Event, event))
        self.states.append(self._state)
        return event

    # --- tasks ------------------------------------------------------------------------------

    def spec(self, task: TaskState) -> WorkflowTask:
        """The WorkflowTask a task runs (from the definition, or embedded if dynamic)."""
        return task.dynamic_task or index_of(self.state.definition).by_ref[task.definition_ref]

    def schedule(
        self,
        wt: WorkflowTask,
        iteration: int = 0,
        *,
        retry_of: TaskState | None = None,
        input_override: JSON = None,
        delay_ms: int | None = None,
        dynamic: bool = False,
        container_ref: str | None = None,
    ) -> TaskState | None:
        """Schedule `wt` (or its next attempt) and run its type's start; None if not running."""
        state = self.state
        if state.status is not WorkflowStatus.RUNNING:
            return None
        ref = ids.loop_ref(wt.task_reference_name, iteration)
        existing = state.current(ref)
        if retry_of is None and existing is not None and existing.status is TaskStatus.SKIPPED:
            self.settle(existing.task_id)  # skipped by request before it was reached
            return existing
        resolved = handler_for(effective_type(wt)).resolve(self, wt)
        if resolved is not wt:  # DYNAMIC: run as the task it names, kept in the event
            wt, dynamic = resolved, True
        kind = effective_type(wt)
        handler = handler_for(kind)
        task_def = effective_task_def(self.ctx, wt)
        retry_count = retry_of.retry_count + 1 if retry_of else 0
        task_id = ids.task_id(state.workflow_id, ref, retry_count, state.generation)
        if input_override is None and retry_of is not None:
            input_override = retry_input(state, wt, task_def, task_id, retry_of.input)
        elif input_override is None:
            params = resolve_input(state, wt, task_def, task_id)
            input_override = handler.prepare_input(self, wt, params)
        if retry_of is None:
            refusal = handler.refusal(self, wt, input_override, iteration)
            if refusal is not None:  # Conductor's mapper-time TerminateWorkflowException
                self.end_workflow(WorkflowStatus.FAILED, refusal)
                return None
        start_delay_ms = wt.start_delay * 1000 if delay_ms is None else delay_ms
        # A WAIT / HUMAN with a start or retry delay waits it out SCHEDULED, then starts
        # (TASK_DELAY timer, decide_task), as Conductor's async system tasks.
        delayed = start_delay_ms > 0 and not handler.dispatched and handler.accepts_reports
        self.emit(
            TaskScheduled,
            task_id=task_id,
            ref=ref,
            definition_ref=wt.task_reference_name,
            name=wt.name,
            task_type=handler.task_type(wt),
            kind=str(kind),
            input=input_override,
            task_def=task_def,
            status=TaskStatus.SCHEDULED if delayed else handler.initial_status,
            dispatched=handler.dispatched,
            start_delay_ms=start_delay_ms,
            retry_count=retry_count,
            retried_task_id=retry_of.task_id if retry_of else None,
            iteration=iteration,
            optional=wt.optional,
            child_workflow_id=ids.child_workflow_id(task_id) if handler.starts_child else None,
            dynamic_task=wt if dynamic else None,
            container_ref=container_ref,
        )
        task = self.state.tasks[task_id]
        if not delayed:
            handler.start(self, task, wt)
        return task

    def complete(
        self,
        task_id: str,
        output: JSON,
        *,
        settle: bool = True,
        worker_id: str | None = None,
        logs: tuple[str, ...] = (),
        started_at: int | None = None,
    ) -> None:
        self.emit(
            TaskCompleted,
            task_id=task_id,
            output=output,
            logs=logs,
            worker_id=worker_id,
            started_at=started_at,
        )
        if settle:
            self.settle(task_id)

    def complete_with_errors(self, task_id: str, output: JSON, reason: str) -> None:
        """An open task (a JOIN) ends COMPLETED_WITH_ERRORS; the workflow goes on after it."""
        self.emit(TaskCompletedWithErrors, task_id=task_id, output=output, reason=reason)
        self.settle(task_id)

    def fail(
        self,
        task_id: str,
        reason: str,
        *,
        status: TaskStatus = TaskStatus.FAILED,
        output: JSON = None,
        worker_id: str | None = None,
        logs: tuple[str, ...] = (),
        started_at: int | None = None,
    ) -> None:
        self.emit(
            TaskFailed,
            task_id=task_id,
            status=status,
            reason=reason,
            output=output if output is not None else {},
            logs=logs,
            worker_id=worker_id,
            started_at=started_at,
        )
        self.settle(task_id)

    def settle(self, task_id: str) -> None:
        """Queue the consequences of a task's end (retry, fail, or go on) for `run`."""
        self._to_settle.append(task_id)

    def later(self, step: Callable[[], None]) -> None:
        """Run `step` after what is being scheduled now, in queue order (Conductor runs a
        system task such as DO_WHILE after the decider scheduled the tasks of its round)."""
        self._to_settle.append(step)

    def run(self) -> None:
        """Work off every queued consequence; a queue, not recursion: cascades can be long."""
        while self._to_settle:
            work = self._to_settle.popleft()
            if isinstance(work, str):
                self._settle(work)
            else:
                work()
        self._complete_if_done()

    def _settle(self, task_id: str) -> None:
        state = self.state
        task = state.tasks[task_id]
        if state.status is not WorkflowStatus.RUNNING:
            return  # paused: evolve kept it in `unsettled`; terminal: nothing follows
        if task.retried or task.generation != state.generation:
            return
        if task.status.is_successful:
            self.continue_after(task)
        elif task.status.is_terminal:
            self._on_failure(task)

    def reattempt(self, task: TaskState, delay_ms: int = 0) -> TaskState | None:
        """The next attempt of `task`: same definition, iteration and container; its input is
        the previous one with the inputParameters resolved again (inputs.retry_input)."""
        return self.schedule(
            self.spec(task),
            task.iteration,
            retry_of=task,
            delay_ms=delay_ms,
            dynamic=task.dynamic_task is not None,
            container_ref=task.container_ref,
        )

    def _on_failure(self, task: TaskState) -> None:
        if self._can_retry(task):
            self.reattempt(task, retry_delay_ms(task.task_def, task.retry_count, task.task_id))
        elif task.optional:
            self.emit(TaskCompletedWithErrors, task_id=task.task_id)
            self.continue_after(self.state.tasks[task.task_id])
        elif is_permissive(self.state, task):  # goes on; the workflow fails when it ends
            self.emit(TaskFailurePermitted, task_id=task.task_id)
            self.continue_after(self.state.tasks[task.task_id])
        else:
            status = {
                TaskStatus.TIMED_OUT: WorkflowStatus.TIMED_OUT,
                TaskStatus.CANCELED: WorkflowStatus.TERMINATED,
            }.get(task.status, WorkflowStatus.FAILED)
            reason = f"Task {task.task_id} failed with status: {status} and reason: '{task.reason}'"
            self.end_workflow(status, reason, failed_task=task)

    def _can_retry(self, task: TaskState) -> bool:
        td = task.task_def
        if not task.status.is_retriable or task.kind in NOT_RETRIED:
            return False
        if task.retry_count >= td.retry_count:
            return False
        budget_ms = td.total_timeout_seconds * 1000
        return budget_ms <= 0 or self.at - task.first_scheduled_at < budget_ms

    def continue_after(self, task: TaskState) -> None:
        """`task` is done: wake the JOINs waiting on it, then go to what follows it."""
        state = self.state
        self.wake_join(task)
        if self.state.status is not WorkflowStatus.RUNNING:
            return
        if task.container_ref is not None:  # a dynamic task: its container decides
            self._container_end(task.container_ref, task)
            return
        position = index_of(state.definition).position.get(task.definition_ref)
        if position is None:
            return
        following = position.next_task
        if following is not None:
            self.schedule(following, task.iteration)
        elif position.container_ref is None:
            self._finish(task)
        else:
            self._container_end(position.container_ref, task)

    def wake_join(self, task: TaskState) -> None:
        """`task` ended successfully: the JOIN waiting on it (if any, and open) checks again."""
        join_id = self.state.awaited_by.get(task.ref)
        join = self.state.tasks[join_id] if join_id else None
        if join is not None and not join.status.is_terminal:
            handler_for(join.kind).on_awaited_done(self, join)

    def _container_end(self, container_ref: str, finished: TaskState) -> None:
        state = self.state
        container = state.current(ids.loop_ref(container_ref, finished.iteration))
        container = container or state.current(container_ref)
        if container is not None:
            handler_for(container.kind).on_container_end(self, container, finished)

    def _finish(self, last: TaskState) -> None:
        """The top-level list ran to its end: the workflow completes once nothing is open."""
        if self.state.open_count == 0:
            self.complete_workflow(workflow_output(self.state))

    def _complete_if_done(self) -> None:
        """Conductor's checkForWorkflowCompletion: the top-level list has ended and every task
        is terminal. Reached when a fork branch no JOIN waits for outlives the list's end."""
        state = self._state
        if state is None or state.status is not WorkflowStatus.RUNNING or state.open_count:
            return
        tasks = state.definition.tasks
        last = state.current(tasks[-1].task_reference_name) if tasks else None
        if last is not None and (last.status.is_successful or permitted(state, last)):
            self.complete_workflow(workflow_output(state))

    # --- the workflow (ending.py) -----------------------------------------------------------

    def open_tasks(self) -> list[TaskState]:
        return ending.open_tasks(self.state)

    def end_workflow(
        self,
        status: WorkflowStatus,
        reason: str,
        *,
        failed_task: TaskState | None = None,
        output: JSON = None,
        trigger_failure_workflow: bool = True,
    ) -> None:
        """Cancel what is open, then record the end (and which failure workflow to start)."""
        ending.end_workflow(
            self,
            status,
            reason,
            failed_task=failed_task,
            output=output,
            trigger_failure_workflow=trigger_failure_workflow,
        )

    def complete_workflow(self, output: JSON, reason: str | None = None) -> None:
        """Complete, unless permissive tasks failed: then fail (Conductor's decide)."""
        ending.complete_workflow(self, output, reason)
