"""Rerun from any task (Conductor's WorkflowExecutor.rerunWF), as a new generation.

What leaves the current view (`WorkflowRerun.retired_task_ids`, the log keeps everything) is
what is *downstream* of the rerun task: the tasks after it in its list, the later iterations of
an enclosing loop, what follows each enclosing container, and everything nested in the rerun
task itself. Sibling fork branches are not downstream: what they completed stays. (Conductor
cuts by seq, which also drops completed sibling branches that ran later.)

Then, as Conductor's finalizeRerun: enclosing DO_WHILE tasks are reopened (the loop at the
rerun task's iteration, its later iteration outputs dropped; an enclosing SWITCH completed when
its case was chosen and stays COMPLETED; one canceled under older rules is completed in place),
the JOIN of each enclosing
fork is scheduled again, every other task of the view that ended unsuccessfully (a sibling
branch canceled by the failure) is reopened (containers) or gets a new attempt, and the rerun
task gets a new attempt (`task_input`, if given, is its input; else it is resolved again).

A task of a child workflow: the rerun goes to the child (the edge sends it to the workflow that
owns the task); the child's WorkflowRerun makes react send the parent a RerunWorkflow with
`rerun_child_id`, which reopens the parent's SUB_WORKFLOW task in place (same child), and so on
up the tree, except at an optional SUB_WORKFLOW task: as Conductor's updateAndPushParents, the
parent is left as it ended (that command is rejected, recorded).
"""

from __future__ import annotations

from typing import NamedTuple

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain import ids
from orchestrator.domain.cascade import Cascade
from orchestrator.domain.defindex import index_of
from orchestrator.domain.definitions import TaskType, effective_type
from orchestrator.domain.outcome import Rejected, RejectionCode
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.tasks.do_while import loop_items
from orchestrator.domain.tasks.switch import complete_in_place

# Containers that wait for their nested list: reopened in place, never re-attempted.
REOPENED = frozenset(
    {
        TaskType.SWITCH,
        TaskType.DECISION,
        TaskType.DO_WHILE,
        TaskType.JOIN,
        TaskType.EXCLUSIVE_JOIN,
    }
)
FORKS = frozenset({TaskType.FORK_JOIN, TaskType.FORK_JOIN_DYNAMIC})
SWITCHES = frozenset({TaskType.SWITCH, TaskType.DECISION})
RERAN_LOG = "Sub workflow {} reran."  # Conductor's execution log on the parent's task


class Step(NamedTuple):
    """One level of a task's place: which list of which container instance, where in it."""

    container_id: str | None
    list_key: str  # the first ref of the list (unique), or the branch ref of a dynamic fork
    iteration: int
    index: int  # type: ignore[assignment]  # the position in the list (shadows tuple.index)


def rerun(c: Cascade, command: cmd.RerunWorkflow) -> Cascade | Rejected:
    state = c.state
    anchor = state.tasks.get(command.from_task_id)
    if anchor is None or state.by_ref.get(anchor.ref) != anchor.task_id:
        return Rejected(RejectionCode.TASK_NOT_FOUND, f"no current task {command.from_task_id}")
    in_place = command.rerun_child_id is not None
    if in_place and anchor.child_workflow_id != command.rerun_child_id:
        return Rejected(RejectionCode.STALE_ATTEMPT, "not the child of the current attempt")
    if in_place and anchor.optional:  # Conductor's updateAndPushParents stops at optional ones
        return Rejected(
            RejectionCode.TASK_ALREADY_TERMINAL,
            f"task {anchor.ref} is optional: its child's rerun leaves this workflow as it ended",
        )
    if not state.is_terminal:
        return Rejected(RejectionCode.WORKFLOW_NOT_TERMINAL, f"workflow is still {state.status}")
    chain = containers(state, anchor)
    retired = downstream(state, anchor)
    if not in_place:
        retired.insert(0, anchor.task_id)
    new_input = state.input if command.workflow_input is None else command.workflow_input
    c.emit(
        ev.WorkflowRerun,
        from_task_id=anchor.task_id,
        input=new_input,
        retired_task_ids=tuple(retired),
        retired_listed=True,
    )
    done = {t.task_id for t in chain} | {anchor.task_id}
    broken = _unsuccessful_tasks(c.state, done)  # before anything new can fail
    _reopen_containers(c, anchor, chain)
    _schedule_joins(c, chain, before=state)
    if in_place:
        c.emit(
            ev.TaskProgressed,
            task_id=anchor.task_id,
            output={},
            logs=(RERAN_LOG.format(command.rerun_child_id),),
        )
    else:
        _schedule_anew(c, anchor, command.task_input)
    _repair(c, broken)
    return c


# --- where a task sits ------------------------------------------------------------------------


def _instance(state: WorkflowState, ref: str, iteration: int) -> TaskState | None:
    return state.current(ids.loop_ref(ref, iteration)) or state.current(ref)


def _place(state: WorkflowState, task: TaskState) -> tuple[TaskState | None, str, int]:
    """The container instance of `task`, the key of its list, its index in that list."""
    if task.container_ref is not None:  # a dynamic fork branch: a list of its own
        return _instance(state, task.container_ref, task.iteration), task.ref, 0
    position = index_of(state.definition).position.get(task.definition_ref)
    if position is None:
        return None, task.ref, 0
    key = position.tasks[0].task_reference_name
    if position.container_ref is None:
        return None, key, position.index
    return _instance(state, position.container_ref, task.iteration), key, position.index


def steps(state: WorkflowState, task: TaskState) -> list[Step]:
    """`task`'s place from the top-level list down to its own list."""
    found: list[Step] = []
    current: TaskState | None = task
    while current is not None and len(found) < 64:
        container, key, index = _place(state, current)
        found.append(Step(container.task_id if container else None, key, current.iteration, index))
        current = container
    return found[::-1]


def containers(state: WorkflowState, task: TaskState) -> list[TaskState]:
    """The container instances enclosing `task`, innermost first."""
    return [state.tasks[s.container_id] for s in reversed(steps(state, task)) if s.container_id]


def is_downstream(task_steps: list[Step], anchor_steps: list[Step]) -> bool:
    """Whether a task at `task_steps` runs again when the task at `anchor_steps` does."""
    for mine, theirs in zip(task_steps, anchor_steps, strict=False):
        if (mine.container_id, mine.list_key) != (theirs.container_id, theirs.list_key):
            return False  # another branch of the same fork (or case): independent
        if mine.iteration != theirs.iteration:
            return mine.iteration > theirs.iteration  # a later loop iteration
        if mine.index != theirs.index:
            return mine.index > theirs.index
    return len(task_steps) > len(anchor_steps)  # nested inside the anchor


def downstream(state: WorkflowState, anchor: TaskState) -> list[str]:
    """Every task record downstream of `anchor` (all attempts), in seq order."""
    anchor_steps = steps(state, anchor)
    found: list[TaskState] = []
    for task_id in state.by_ref.values():
        current = state.tasks[task_id]
        if task_id == anchor.task_id or not is_downstream(steps(state, current), anchor_steps):
            continue
        task: TaskState | None = current
        while task is not None:  # the earlier attempts go too: they came after the anchor
            found.append(task)
            previous = task.retried_task_id
            task = state.tasks.get(previous) if previous else None
    return [t.task_id for t in sorted(found, key=lambda t: t.seq)]


# --- making the view run again ----------------------------------------------------------------


def _reopen_containers(c: Cascade, anchor: TaskState, chain: list[TaskState]) -> None:
    for container in reversed(chain):  # outermost first
        if container.kind == TaskType.DO_WHILE:
            _reopen_loop(c, container, anchor.iteration)
        elif container.kind in SWITCHES:  # completed when its case was chosen: stays so
            complete_in_place(c, container)
        elif container.kind in REOPENED and container.status.is_terminal:
            c.emit(ev.TaskProgressed, task_id=container.task_id, output={})


def _reopen_loop(c: Cascade, loop: TaskState, n: int) -> None:
    """The loop runs on from iteration n: later iteration outputs are dropped."""
    output = loop.output if isinstance(loop.output, dict) else {}
    stale = tuple(k for k in output if k.isdigit() and int(k) >= n)
    if stale:
        c.emit(ev.LoopIterationsRemoved, task_id=loop.task_id, output_keys=stale)
    progress: dict[str, object] = {"iteration": n}
    if "loopIndex" in output:
        items = loop_items(c.state, c.spec(loop)) or []
        progress["loopIndex"] = n - 1
        if n - 1 < len(items):
            progress["loopItem"] = items[n - 1]
    c.emit(ev.TaskProgressed, task_id=loop.task_id, output=progress)


def _schedule_joins(c: Cascade, chain: list[TaskState], before: WorkflowState) -> None:
    """Each enclosing fork's JOIN was downstream: schedule it again (its counter starts from
    the branches of the view that already ended), outermost first."""
    definition = before.definition
    index = index_of(definition)
    for fork in reversed(chain):
        if fork.kind not in FORKS:
            continue
        position = index.position.get(fork.definition_ref)
        join_wt = position.next_task if position is not None else None
        if join_wt is None or effective_type(join_wt) is not TaskType.JOIN:
            continue
        old = before.current(ids.loop_ref(join_wt.task_reference_name, fork.iteration))
        c.schedule(join_wt, fork.iteration, input_override=old.input if old else None)


def _schedule_anew(c: Cascade, task: TaskState, task_input: object) -> None:
    c.schedule(
        c.spec(task),
        task.iteration,
        input_override=task_input,
        dynamic=task.dynamic_task is not None,
        container_ref=task.container_ref,
    )


def _unsuccessful_tasks(state: WorkflowState, done: set[str]) -> list[TaskState]:
    """What ended unsuccessfully elsewhere in the view (a sibling branch canceled when the
    workflow failed), in seq order."""
    found = (state.tasks[tid] for tid in state.by_ref.values() if tid not in done)
    return sorted(
        (t for t in found if t.status.is_terminal and not t.status.is_successful),
        key=lambda t: t.seq,
    )


def _repair(c: Cascade, broken: list[TaskState]) -> None:
    """Those tasks run again: containers reopen, other tasks get a new attempt."""
    for task in broken:
        if task.kind in SWITCHES and complete_in_place(c, task):
            continue
        if task.kind in REOPENED:
            c.emit(ev.TaskProgressed, task_id=task.task_id, output={})
            continue
        c.reattempt(task)
