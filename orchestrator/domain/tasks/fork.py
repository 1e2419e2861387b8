"""FORK_JOIN (alias FORK) and JOIN.

The fork completes at once and schedules the first task of every branch, then its JOIN, in
Conductor's order (ForkJoinTaskMapper: the fork, the branches' first tasks, the JOIN), which
is the workflow's task list order users see and the default workflow output depends on. The
JOIN's counter of outstanding `joinOn` tasks is set when it is scheduled, from the tasks that
already ended (a branch task may have completed inline before it); their consequences are
queued, so none can reach the JOIN before it exists. The state counts down per JOIN as awaited
tasks end successfully (evolve), so completing one branch of a 1,000-wide fork is O(1); the
JOIN completes when its counter reaches zero, with the map ref -> output of its joinOn tasks
(the non-empty ones, as Conductor), COMPLETED_WITH_ERRORS if optional ones among them failed.
A workflow retry reopens a canceled or failed JOIN in place (`reopen_in_place`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain import ids
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.events import TaskCanceled, TaskProgressed
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.base import handler_for
from orchestrator.domain.tasks.common import BaseHandler

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState


class ForkHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.FORK_JOIN,)

    def task_type(self, wt: WorkflowTask) -> str:
        return "FORK"  # Conductor's taskType for both spellings

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        c.complete(task.task_id, {}, settle=False)
        for branch in wt.fork_tasks:
            if branch:
                c.schedule(branch[0], task.iteration)
        join_ref = index_of(c.state.definition).join_of_fork.get(wt.task_reference_name)
        if join_ref is not None:
            c.schedule(index_of(c.state.definition).by_ref[join_ref], task.iteration)


class JoinHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.JOIN,)
    initial_status = TaskStatus.IN_PROGRESS

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        return {**(resolved if isinstance(resolved, dict) else {}), "joinOn": list(wt.join_on)}

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        self.on_awaited_done(c, task)

    def on_awaited_done(self, c: Cascade, task: TaskState) -> None:
        if c.state.join_waiting.get(task.task_id, 0) > 0:
            return
        joined = _joined(c, task)
        if len(joined) < len(_join_on(task)) or not all(t.status.is_terminal for t in joined):
            return  # a JOIN reopened by a retry waits for every new attempt (see reopen_in_place)
        output = {t.ref: t.output for t in joined if t.output}
        failed = [t for t in joined if not t.status.is_successful]
        if failed:  # permissive tasks that failed: everything awaited has ended
            _fail(c, task, failed, output)
            return
        with_errors = [t for t in joined if t.optional and t.status is _WITH_ERRORS]
        if with_errors:
            reason = " ".join(f"{t.name}/{t.task_id}" for t in with_errors)
            c.complete_with_errors(task.task_id, output, f"{reason} completed with errors")
            return
        c.complete(task.task_id, output)

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        return reopen_in_place(c, task)


def reopen_in_place(c: Cascade, task: TaskState) -> bool:
    """Conductor's workflow retry reopens a JOIN (EXCLUSIVE_JOIN, DO_WHILE) IN_PROGRESS in place
    (same task id) rather than scheduling a new one; it then waits for the new attempts of the
    tasks it waits on (its counter never counted the failed ones)."""
    c.emit(TaskProgressed, task_id=task.task_id, output={})
    reopened = c.state.tasks[task.task_id]
    handler_for(reopened.kind).on_awaited_done(c, reopened)
    return True


_WITH_ERRORS = TaskStatus.COMPLETED_WITH_ERRORS


def _fail(c: Cascade, join: TaskState, failed: list[TaskState], output: JSON) -> None:
    """Conductor's Join over permissive tasks that failed: FAILED with their reasons; CANCELED
    if they were all canceled (a child workflow terminated by hand), so the workflow ends
    TERMINATED rather than FAILED (that JOIN keeps no output)."""
    reason = " ".join(t.reason for t in failed if t.reason)
    if any(t.status is not TaskStatus.CANCELED for t in failed):
        c.fail(join.task_id, reason, output=output)
        return
    c.emit(TaskCanceled, task_id=join.task_id, reason=reason)
    c.settle(join.task_id)


def _joined(c: Cascade, join: TaskState) -> list[TaskState]:
    """The JOIN's joinOn tasks that exist, in joinOn order. Conductor's Join: inside a loop,
    joinOn means this iteration's refs (`ref__N`), and the output is keyed by those refs; it
    holds only the outputs that are not empty; optional tasks that failed make the JOIN
    COMPLETED_WITH_ERRORS ("<name>/<task id> ... completed with errors")."""
    found = (c.state.current(ids.loop_ref(str(r), join.iteration)) for r in _join_on(join))
    return [t for t in found if t is not None]


def _join_on(join: TaskState) -> list[JSON]:
    refs = join.input.get("joinOn") if isinstance(join.input, dict) else None
    return refs if isinstance(refs, list) else []
