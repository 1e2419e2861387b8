"""A per-definition index, built once and cached: where each task sits, what follows it,
which JOIN waits for it. It makes "what comes next" O(1) instead of a walk of the definition."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from orchestrator.domain.definitions import TaskType, WorkflowDef, WorkflowTask, effective_type


@dataclass(frozen=True, slots=True)
class Position:
    """Where a WorkflowTask sits: in list `path` (owned by `container_ref`, None = top level)."""

    container_ref: str | None
    tasks: tuple[WorkflowTask, ...]
    index: int

    @property
    def next_task(self) -> WorkflowTask | None:
        nxt = self.index + 1
        return self.tasks[nxt] if nxt < len(self.tasks) else None


@dataclass(frozen=True, slots=True)
class DefinitionIndex:
    by_ref: dict[str, WorkflowTask]
    position: dict[str, Position]
    join_of_fork: dict[str, str]  # FORK_JOIN ref -> the JOIN that follows it
    joins_waiting_on: dict[str, tuple[str, ...]]  # ref -> JOIN refs listing it in joinOn

    def task(self, ref: str) -> WorkflowTask | None:
        return self.by_ref.get(ref)


def child_lists(task: WorkflowTask) -> list[tuple[WorkflowTask, ...]]:
    """Every task list nested in `task` (switch cases, fork branches, loop body)."""
    lists: list[tuple[WorkflowTask, ...]] = list(task.decision_cases.values())
    if task.default_case:
        lists.append(task.default_case)
    lists.extend(task.fork_tasks)
    if task.loop_over:
        lists.append(task.loop_over)
    return lists


def build_index(definition: WorkflowDef) -> DefinitionIndex:
    by_ref: dict[str, WorkflowTask] = {}
    position: dict[str, Position] = {}
    join_of_fork: dict[str, str] = {}
    waiting: dict[str, list[str]] = {}
    stack: list[tuple[str | None, tuple[WorkflowTask, ...]]] = [(None, definition.tasks)]
    while stack:
        container, tasks = stack.pop()
        for i, task in enumerate(tasks):
            ref = task.task_reference_name
            by_ref[ref] = task
            position[ref] = Position(container, tasks, i)
            kind = effective_type(task)
            if kind is TaskType.FORK_JOIN and i + 1 < len(tasks):
                join_of_fork[ref] = tasks[i + 1].task_reference_name
            if kind in (TaskType.JOIN, TaskType.EXCLUSIVE_JOIN):
                for awaited in task.join_on:
                    waiting.setdefault(awaited, []).append(ref)
            stack.extend((ref, child) for child in child_lists(task))
    return DefinitionIndex(
        by_ref, position, join_of_fork, {k: tuple(v) for k, v in waiting.items()}
    )


# Definitions are not hashable (they hold dicts), so the cache is keyed by identity and keeps
# the definition alive beside its index (an id is only reused after the object is freed).
_CACHE: OrderedDict[int, tuple[WorkflowDef, DefinitionIndex]] = OrderedDict()
_CACHE_SIZE = 1024


def index_of(definition: WorkflowDef) -> DefinitionIndex:
    key = id(definition)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is definition:
        _CACHE.move_to_end(key)
        return hit[1]
    index = build_index(definition)
    _CACHE[key] = (definition, index)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return index
