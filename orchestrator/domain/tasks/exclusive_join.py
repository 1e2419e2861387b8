"""EXCLUSIVE_JOIN: join the one branch of a SWITCH/DECISION that actually ran.

Conductor's ExclusiveJoin, rule for rule: walk `joinOn` in order and take the first task that
was reached and not skipped; if it has ended, the join ends like it (its output, or FAILED with
its reason); if it has not, fall back to `defaultExclusiveJoinTask` the same way; if nothing is
found, wait. Inside a DO_WHILE the refs of the join's own iteration are used.

The input is `{joinOn, defaultExclusiveJoinTask}` as Conductor's mapper builds it; evolve
registers the join as the waiter of its joinOn refs, so the cascade calls `on_awaited_done`
when one of them ends (O(1)); placed after a SWITCH, the join usually completes as it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain import ids
from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.common import BaseHandler
from orchestrator.domain.tasks.fork import reopen_in_place

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState, WorkflowState

JOIN_ON = "joinOn"
DEFAULTS = "defaultExclusiveJoinTask"


def _refs(task: TaskState, key: str) -> list[str]:
    refs = task.input.get(key) if isinstance(task.input, dict) else None
    return [ids.loop_ref(str(r), task.iteration) for r in refs] if isinstance(refs, list) else []


def _first_reached(state: WorkflowState, refs: list[str]) -> TaskState | None:
    """The first of `refs` that was scheduled and not skipped (Conductor stops there)."""
    for ref in refs:
        found = state.current(ref)
        if found is not None and found.status is not TaskStatus.SKIPPED:
            return found
    return None


def joined_task(state: WorkflowState, join: TaskState) -> TaskState | None:
    """The ended task this join takes its result from, or None to keep waiting."""
    for key in (JOIN_ON, DEFAULTS):
        found = _first_reached(state, _refs(join, key))
        if found is not None and found.status.is_terminal:
            return found
    return None


class ExclusiveJoinHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.EXCLUSIVE_JOIN,)
    initial_status = TaskStatus.IN_PROGRESS

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        params = resolved if isinstance(resolved, dict) else {}
        result: dict[str, JSON] = {**params, JOIN_ON: list(wt.join_on)}
        if wt.default_exclusive_join_task:
            result[DEFAULTS] = list(wt.default_exclusive_join_task)
        return result

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        self.on_awaited_done(c, task)

    def on_awaited_done(self, c: Cascade, task: TaskState) -> None:
        found = joined_task(c.state, task)
        if found is None:
            return
        if found.status.is_successful:
            c.complete(task.task_id, found.output)
        else:
            c.fail(task.task_id, found.reason or f"task {found.ref} ended {found.status}")

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        return reopen_in_place(c, task)
