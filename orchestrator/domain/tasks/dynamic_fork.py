"""FORK_JOIN_DYNAMIC: fork N tasks chosen at run time (see dynamic_plan.py for the two input
forms), then the JOIN that follows it in the definition waits for all of them.

As in Conductor, the fork task (taskType FORK) records the branch refs in its input
(`forkedTasks`), completes at once, and the JOIN's `joinOn` is set at run time to those refs, so
its output is the map ref -> output of every branch. The JOIN is scheduled after the branches
(Conductor's order; its counter starts from the branches that already ended, see fork.py): a
branch's completion is one O(1) counter step (evolve), whatever the width. Each branch travels in its TaskScheduled
(`dynamic_task`, `container_ref` = the fork), so retries, evolve and replay need no lookup.

An invalid input (not a list of tasks, inputs not a map, duplicate or clashing refs, no JOIN
after the fork) fails the workflow with the reason before the fork task is recorded, as
Conductor's ForkJoinDynamicTaskMapper does (its TerminateWorkflowException): the task list keeps
only what ran before, the output is the last task's, no failureTaskId.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from orchestrator.domain import ids
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import (
    JSON,
    TaskType,
    WorkflowDef,
    WorkflowTask,
    effective_type,
)
from orchestrator.domain.inputs import effective_task_def, resolve_input
from orchestrator.domain.tasks.common import BaseHandler, TaskError
from orchestrator.domain.tasks.dynamic_plan import plan_branches

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState, WorkflowState

FORKED = "forkedTasks"  # Conductor's input key for the branch refs
ERROR = "error"  # the planning problem (with forkedTasks null), so `start` fails the task


class DynamicForkHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.FORK_JOIN_DYNAMIC,)

    def task_type(self, wt: WorkflowTask) -> str:
        return "FORK"  # Conductor's taskType for a dynamic fork too

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        params = dict(resolved) if isinstance(resolved, dict) else {}
        try:
            branches = plan_branches(wt, params, _another_dynamic_fork_ran(c.state))
        except TaskError as error:
            return {**params, FORKED: None, ERROR: str(error)}
        return {**params, FORKED: [b.task_reference_name for b in branches]}

    def refusal(self, c: Cascade, wt: WorkflowTask, task_input: JSON, iteration: int) -> str | None:
        try:
            self._plan(c, task_input, wt, iteration)
        except TaskError as error:
            return str(error)
        return None

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        try:
            branches, join = self._plan(c, task.input, wt, task.iteration)
        except TaskError as error:  # refused before it was scheduled: only an older log's fork
            c.fail(task.task_id, str(error))
            return
        c.complete(task.task_id, {}, settle=False)
        refs = [b.task_reference_name for b in branches]
        join_input = resolve_input(c.state, join, effective_task_def(c.ctx, join))
        join_input = {**(join_input if isinstance(join_input, dict) else {}), "joinOn": refs}
        for branch in branches:  # then the JOIN: Conductor's order (see fork.py)
            c.schedule(
                branch,
                task.iteration,
                dynamic=True,
                container_ref=wt.task_reference_name,
            )
        c.schedule(join, task.iteration, input_override=join_input)

    def _plan(
        self, c: Cascade, task_input: JSON, wt: WorkflowTask, iteration: int
    ) -> tuple[tuple[WorkflowTask, ...], WorkflowTask]:
        params = task_input if isinstance(task_input, dict) else {}
        recorded = params.get(FORKED)
        if not isinstance(recorded, list):  # prepare_input could not plan the branches
            raise TaskError(str(params.get(ERROR, "the dynamic fork has no branches")))
        refs = [str(r) for r in recorded]
        fields = {k: v for k, v in params.items() if k != FORKED}
        branches = plan_branches(wt, fields, prefixed=False, refs=refs)
        join = _join_after(c.state.definition, wt)
        _check_refs(c.state, branches, iteration)
        return branches, join


def _join_after(definition: WorkflowDef, wt: WorkflowTask) -> WorkflowTask:
    position = index_of(definition).position.get(wt.task_reference_name)
    following = position.next_task if position is not None else None
    if following is None or effective_type(following) is not TaskType.JOIN:
        raise TaskError(
            "Dynamic join definition is not followed by a join task.  Check the workflow definition."
        )
    return following


def _check_refs(state: WorkflowState, branches: tuple[WorkflowTask, ...], iteration: int) -> None:
    """A branch ref must name no task of the definition and no task already in the workflow."""
    defined = index_of(state.definition).by_ref
    for branch in branches:
        ref = branch.task_reference_name
        if ref in defined or state.current(ids.loop_ref(ref, iteration)) is not None:
            raise TaskError(
                f"dynamic fork attempted to create a duplicate task reference name: {ref}"
            )


# --- Conductor's "hasMoreThanOneFork": branch refs get the fork's ref as a prefix once any
# dynamic fork task exists in the workflow. Checked over the definition's FORK_JOIN_DYNAMIC refs
# (cached per definition), never by scanning the workflow's tasks.

_FORK_REFS: OrderedDict[int, tuple[WorkflowDef, tuple[str, ...]]] = OrderedDict()


def _dynamic_fork_refs(definition: WorkflowDef) -> tuple[str, ...]:
    hit = _FORK_REFS.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    refs = tuple(
        ref
        for ref, t in index_of(definition).by_ref.items()
        if effective_type(t) is TaskType.FORK_JOIN_DYNAMIC
    )
    _FORK_REFS[id(definition)] = (definition, refs)
    if len(_FORK_REFS) > 1024:
        _FORK_REFS.popitem(last=False)
    return refs


def _another_dynamic_fork_ran(state: WorkflowState) -> bool:
    """Called before the fork's own TaskScheduled, so any hit is another (or earlier) fork."""
    latest = state.latest_iteration
    return any(ref in latest for ref in _dynamic_fork_refs(state.definition))
