"""DYNAMIC: a task whose name is chosen at run time.

`dynamicTaskNameParam` names the input key that holds the task name. When the task is reached,
`resolve` turns the DYNAMIC WorkflowTask into the task it names (same reference name and input
parameters): a SIMPLE task of that TaskDef (inline `taskDefinition`, else the registered one),
or the system task of that type (HTTP, INLINE, WAIT...). The cascade schedules that task in its
place and records the resolved WorkflowTask in TaskScheduled (`dynamic_task`), so its retries
and a replay run the same task. As in Conductor, its taskType is the resolved name.

When the name is missing, has no TaskDef, or names a control-flow type that needs a structure
the DYNAMIC task does not have (SWITCH, FORK, DO_WHILE, SUB_WORKFLOW...), the DYNAMIC task
itself is scheduled and FAILED with the reason (Conductor's messages), so retries, `optional`
and the workflow's failure apply as for any task.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from orchestrator.domain.definitions import TaskType, WorkflowTask
from orchestrator.domain.expressions import to_text
from orchestrator.domain.inputs import effective_task_def, resolve_input
from orchestrator.domain.tasks.common import BaseHandler

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState

# Types that need fields of their own (cases, branches, loop body, child params, joinOn).
STRUCTURAL = frozenset(
    {
        TaskType.SWITCH,
        TaskType.DECISION,
        TaskType.FORK_JOIN,
        TaskType.FORK,
        TaskType.JOIN,
        TaskType.FORK_JOIN_DYNAMIC,
        TaskType.DO_WHILE,
        TaskType.SUB_WORKFLOW,
        TaskType.EXCLUSIVE_JOIN,
        TaskType.DYNAMIC,
    }
)


def resolve_dynamic(c: Cascade, wt: WorkflowTask) -> WorkflowTask | str:
    """The WorkflowTask a DYNAMIC `wt` runs as, or the reason it cannot run."""
    param = wt.dynamic_task_name_param
    params = resolve_input(c.state, wt, effective_task_def(c.ctx, wt))
    value = params.get(param) if isinstance(params, dict) and param else None
    if value is None or value == "":
        return (
            "Cannot map a dynamic task based on the parameter and input. "
            f"Parameter= {param}, input= {to_text(params)}"
        )
    name = to_text(value)
    try:
        kind: TaskType | None = TaskType(name)
    except ValueError:
        kind = None
    if kind in STRUCTURAL:
        return f"A DYNAMIC task cannot run as a {name} task (it needs its own definition fields)"
    if kind is not None and kind is not TaskType.SIMPLE:
        return replace(wt, name=name, type=name)
    if wt.task_definition is None and c.ctx.task_def(name) is None:
        return f"Invalid task specified. Cannot find task by name {name} in the task definitions"
    return replace(wt, name=name, type=TaskType.SIMPLE)


class DynamicHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.DYNAMIC,)

    def resolve(self, c: Cascade, wt: WorkflowTask) -> WorkflowTask:
        resolved = resolve_dynamic(c, wt)
        return wt if isinstance(resolved, str) else resolved

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        # Only an unresolvable DYNAMIC is scheduled as itself (see `resolve`).
        reason = resolve_dynamic(c, wt)
        c.fail(task.task_id, reason if isinstance(reason, str) else "dynamic task not resolved")
