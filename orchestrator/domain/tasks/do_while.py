"""DO_WHILE: run `loopOver` once, then again while `loopCondition` holds (Conductor's DoWhile).

- Iteration 1 begins after the tasks scheduled with the loop (`Cascade.later`: in a fork, the
  other branches and the JOIN come first), as Conductor's DoWhile system task runs then.
- Tasks of iteration N (1-based) are scheduled with `iteration=N`, so their refs are `ref__N`
  and everything nested (switch cases, forks and their JOIN counters) is per iteration.
- The DO_WHILE task stays IN_PROGRESS; its output holds `iteration` (the current one) and, per
  finished iteration, `"N": {ref: output}` for every task of the loop body (nested ones too).
  Each iteration boundary is one TaskProgressed of the DO_WHILE (so the read model sees it).
- When the body's last task ends, the condition is evaluated as JavaScript with `$` bound to the
  DO_WHILE's inputParameters (resolved again now), the DO_WHILE's own output under its ref, and
  the latest output of every loop task under its unsuffixed ref (`$.fetch['hasMore']`). The
  result is true if it is `true` or a number > 0 (Conductor's toBoolean). No condition: stop.
  A script error fails the DO_WHILE (FAILED_WITH_TERMINAL_ERROR) with Conductor's message.
- List iteration: `items` (an expression on the WorkflowTask) or `inputParameters._items`;
  output and bindings get `loopIndex` (0-based) and `loopItem`; the loop runs while there is a
  next item (AND the condition, if any); an empty list completes at once with iteration 0.
- `inputParameters.keepLastN`: when iteration N ends, iteration N - keepLastN leaves the state
  (its output key and its task records, one LoopIterationsRemoved event); the log keeps it.

Cost per iteration is O(tasks in the body), never O(iterations so far): the loop's refs are
cached per WorkflowTask, tasks are found by exact ref, and only the refs the condition names are
copied into its bindings (a script can only read a binding it names, short of enumerating `$`).
Known gap: tasks of an iteration that outlive its last task (fork branches no JOIN waits for)
do not hold the next iteration back, as Conductor's isIterationComplete would.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.domain import ids
from orchestrator.domain.defindex import child_lists
from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.events import LoopIterationsRemoved, TaskProgressed
from orchestrator.domain.expressions import resolve
from orchestrator.domain.inputs import lookup_for
from orchestrator.domain.ports import ScriptError
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.common import BaseHandler, TaskError

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState, WorkflowState

ITEMS_PARAM = "_items"  # Orkes-compatible spelling of `items` in inputParameters


class DoWhileHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.DO_WHILE,)
    initial_status = TaskStatus.IN_PROGRESS

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        if not wt.loop_over:
            c.fail(task.task_id, "DO_WHILE has no loopOver tasks")
            return
        items = loop_items(c.state, wt)
        if items is not None and not items:
            c.complete(task.task_id, {"iteration": 0})
            return
        # Its first iteration begins after the tasks being scheduled with it (e.g. the other
        # branches of a fork and their JOIN), as Conductor's DoWhile system task runs then.
        c.later(lambda: _begin_first(c, task.task_id, wt, items))

    def on_container_end(self, c: Cascade, container: TaskState, finished: TaskState) -> None:
        n = finished.iteration
        if container.status.is_terminal or _current_iteration(container) != n:
            return  # not the body's end of the running iteration
        wt = c.spec(container)
        state = c.state
        key = str(n)
        done = {key: iteration_output(state, wt, n)}
        dropped = _dropped_iteration(container, n)
        items = loop_items(state, wt)

        def loop_output() -> JSON:
            output = {**container.output, **done}
            output.pop(str(dropped), None)
            return output

        try:
            go_on = should_continue(c, container, wt, n, items, loop_output)
        except TaskError as error:
            reason = f"Unable to evaluate condition {wt.loop_condition}, exception {error}"
            c.fail(
                container.task_id,
                reason,
                status=TaskStatus.FAILED_WITH_TERMINAL_ERROR,
                output=done,
            )
            return
        if dropped:
            _remove_iteration(c, container, wt, dropped)
        if go_on:
            _begin(c, c.state.tasks[container.task_id], wt, n + 1, items, done)
        else:
            c.complete(container.task_id, done)

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        """Conductor's workflow retry reopens the loop in place at its iteration (same task id).
        A task inside that failed gets a new attempt from the same retry (it has a higher seq)
        and the loop waits for it; if the condition itself failed, it is evaluated again now."""
        condition_failed = task.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
        c.emit(TaskProgressed, task_id=task.task_id, output={})
        n = _current_iteration(task)
        if not condition_failed or not n:
            return True
        last = c.state.current(ids.loop_ref(c.spec(task).loop_over[-1].task_reference_name, n))
        if last is not None and last.status.is_successful:
            self.on_container_end(c, c.state.tasks[task.task_id], last)
        return True


def _begin_first(c: Cascade, task_id: str, wt: WorkflowTask, items: list[JSON] | None) -> None:
    """The deferred first iteration, unless the loop or its workflow has ended meanwhile."""
    task = c.state.tasks[task_id]
    if task.status is TaskStatus.IN_PROGRESS and c.state.status is WorkflowStatus.RUNNING:
        _begin(c, task, wt, 1, items, {})


def _current_iteration(task: TaskState) -> int | None:
    value = task.output.get("iteration") if isinstance(task.output, dict) else None
    return value if isinstance(value, int) else None


def _begin(
    c: Cascade,
    task: TaskState,
    wt: WorkflowTask,
    n: int,
    items: list[JSON] | None,
    done: dict[str, JSON],
) -> None:
    """Record iteration `n` (and the outputs of the one before), then schedule its first task."""
    output: dict[str, JSON] = {**done, "iteration": n}
    if items is not None:
        output["loopIndex"] = n - 1
        if n - 1 < len(items):
            output["loopItem"] = items[n - 1]
    c.emit(TaskProgressed, task_id=task.task_id, output=output)
    c.schedule(wt.loop_over[0], n)


# --- what an iteration is ---------------------------------------------------------------------

_REFS: OrderedDict[int, tuple[WorkflowTask, tuple[str, ...]]] = OrderedDict()


def loop_refs(wt: WorkflowTask) -> tuple[str, ...]:
    """Every task ref in the loop body, nested ones included, in definition order (cached)."""
    hit = _REFS.get(id(wt))
    if hit is not None and hit[0] is wt:
        return hit[1]
    refs: list[str] = []
    stack: list[WorkflowTask] = list(reversed(wt.loop_over))
    while stack:
        task = stack.pop()
        refs.append(task.task_reference_name)
        for branch in reversed(child_lists(task)):
            stack.extend(reversed(branch))
    _REFS[id(wt)] = (wt, tuple(refs))
    if len(_REFS) > 4096:
        _REFS.popitem(last=False)
    return tuple(refs)


def iteration_output(state: WorkflowState, wt: WorkflowTask, n: int) -> dict[str, JSON]:
    """Conductor's per-iteration output: unsuffixed ref -> output of the tasks of iteration n."""
    out: dict[str, JSON] = {}
    for ref in loop_refs(wt):
        task = state.current(ids.loop_ref(ref, n))
        if task is not None:
            out[ref] = task.output
    return out


def loop_items(state: WorkflowState, wt: WorkflowTask) -> list[JSON] | None:
    """The list iterated over (evaluated now, as Conductor does each time), or None."""
    if wt.items is not None and wt.items.strip():
        value = resolve({"items": wt.items}, lookup_for(state))["items"]
    elif ITEMS_PARAM in wt.input_parameters:
        raw = wt.input_parameters[ITEMS_PARAM]
        if not (isinstance(raw, list) or (isinstance(raw, str) and raw.strip())):
            return None
        value = resolve(raw, lookup_for(state))
    else:
        return None
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


# --- the condition ----------------------------------------------------------------------------


def should_continue(
    c: Cascade,
    container: TaskState,
    wt: WorkflowTask,
    n: int,
    items: list[JSON] | None,
    loop_output: Callable[[], JSON],
) -> bool:
    condition = wt.loop_condition if wt.loop_condition and wt.loop_condition.strip() else None
    bindings = _bindings(c.state, container, wt, condition or "", loop_output)
    if items is not None:
        index = n - 1
        bindings["loopIndex"] = index
        if index < len(items):
            bindings["loopItem"] = items[index]
        more = index < len(items) - 1
        return _evaluate(c, condition, bindings) and more if condition else more
    return _evaluate(c, condition, bindings) if condition else False


def _bindings(
    state: WorkflowState,
    container: TaskState,
    wt: WorkflowTask,
    condition: str,
    loop_output: Callable[[], JSON],
) -> dict[str, JSON]:
    resolved = resolve(wt.input_parameters, lookup_for(state))
    bindings: dict[str, JSON] = dict(resolved) if isinstance(resolved, dict) else {}
    if container.ref in condition:
        bindings[container.ref] = loop_output()
    for ref in loop_refs(wt):
        if ref in condition:
            task_id = state.latest_iteration.get(ref)
            if task_id is not None:
                bindings[ref] = state.tasks[task_id].output
    return bindings


def _evaluate(c: Cascade, condition: str, bindings: dict[str, JSON]) -> bool:
    try:
        result = c.ctx.scripts.evaluate_js(condition, bindings)
    except ScriptError as error:
        raise TaskError(str(error)) from error
    if isinstance(result, bool):
        return result
    return isinstance(result, int | float) and result > 0


# --- keepLastN --------------------------------------------------------------------------------


def keep_last_n(task: TaskState) -> int | None:
    value = task.input.get("keepLastN") if isinstance(task.input, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def _dropped_iteration(container: TaskState, n: int) -> int:
    """The iteration that leaves the state when iteration n ends (0 = none)."""
    keep = keep_last_n(container)
    return n - keep if keep is not None and n > keep else 0


def iteration_task_ids(state: WorkflowState, wt: WorkflowTask, n: int) -> tuple[str, ...]:
    """The finished task records of iteration n: every attempt, dynamic fork branches too."""
    found: list[str] = []

    def attempts(ref: str) -> None:
        task = state.current(ids.loop_ref(ref, n))
        if task is not None and task.kind == TaskType.FORK_JOIN_DYNAMIC:
            forked = task.input.get("forkedTasks") if isinstance(task.input, dict) else None
            for branch in forked if isinstance(forked, list) else []:
                attempts(str(branch))
        while task is not None and task.status.is_terminal:
            found.append(task.task_id)
            previous = task.retried_task_id
            task = state.tasks.get(previous) if previous else None

    for ref in loop_refs(wt):
        attempts(ref)
    return tuple(found)


def _remove_iteration(c: Cascade, container: TaskState, wt: WorkflowTask, n: int) -> None:
    c.emit(
        LoopIterationsRemoved,
        task_id=container.task_id,
        output_keys=(str(n),),
        removed_task_ids=iteration_task_ids(c.state, wt, n),
    )
