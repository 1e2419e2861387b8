"""Which tasks a FORK_JOIN_DYNAMIC forks, read from its resolved input the way Conductor's
ForkJoinDynamicTaskMapper reads it. Pure: no state, no cascade; errors are TaskErrors whose
message becomes the fork task's reasonForIncompletion.

Two forms (the simplified one wins when `forkTaskInputs` is a list):
- simplified: inputParameters `forkTaskName` (or `forkTaskWorkflow` [+ `forkTaskWorkflowVersion`]
  for SUB_WORKFLOW branches), optional `forkTaskType`, and `forkTaskInputs: [..]`: one branch per
  item, ref `_<forkTaskName>_<i>` (`_<forkRef>_<forkTaskName>_<i>` once another dynamic fork ran
  in the workflow, as Conductor does), input = the item (or `{"input": item}`) plus `__index`;
- classic: `dynamicForkTasksParam` names the input holding a list of WorkflowTask JSON objects,
  `dynamicForkTasksInputParamName` the input holding a map ref -> extra input of that task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from orchestrator.domain.definitions import (
    JSON,
    SubWorkflowParams,
    TaskType,
    WorkflowTask,
    effective_type,
)
from orchestrator.domain.definitions_json import read_workflow_task
from orchestrator.domain.expressions import to_text
from orchestrator.domain.problems import Reader
from orchestrator.domain.tasks.common import TaskError

# Types whose nested task lists would live outside the definition index; a dynamic branch is one
# task, whose end is its branch's end (a limitation Conductor does not have, documented).
UNSUPPORTED_BRANCH_TYPES = frozenset(
    {
        TaskType.SWITCH,
        TaskType.DECISION,
        TaskType.FORK_JOIN,
        TaskType.FORK_JOIN_DYNAMIC,
        TaskType.DO_WHILE,
        TaskType.JOIN,
        TaskType.EXCLUSIVE_JOIN,
    }
)
# Conductor's SystemTaskRegistry.isSystemTask, for "forkTaskType without forkTaskName".
_SYSTEM_TYPES = frozenset(TaskType) - {TaskType.SIMPLE}

RefFor = Callable[[int], str]


def plan_branches(
    wt: WorkflowTask, params: dict[str, JSON], prefixed: bool, refs: Sequence[str] | None = None
) -> tuple[WorkflowTask, ...]:
    """The branch tasks; `refs` (as recorded in the fork's input) override generated names."""
    simple = _simple(wt, params, prefixed, refs)
    branches = simple if simple is not None else _classic(wt, params)
    _check(branches)
    return branches


def _text(params: dict[str, JSON], key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise TaskError(f"{key} must be a string, got {to_text(value)}")


def _version(value: JSON) -> int | None:
    """Conductor parses forkTaskWorkflowVersion as text and ignores what is not a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def _simple(
    wt: WorkflowTask, params: dict[str, JSON], prefixed: bool, refs: Sequence[str] | None
) -> tuple[WorkflowTask, ...] | None:
    inputs = params.get("forkTaskInputs")
    if not isinstance(inputs, list):
        return None  # Conductor falls back to the classic form
    workflow = _text(params, "forkTaskWorkflow")
    version = _version(params.get("forkTaskWorkflowVersion"))
    task_type = _text(params, "forkTaskType")
    name = _text(params, "forkTaskName")
    if name is None and task_type in _SYSTEM_TYPES:
        name = task_type
    name = name or wt.task_reference_name
    prefix = f"_{wt.task_reference_name}_{name}_" if prefixed else f"_{name}_"

    def ref_for(i: int) -> str:
        return refs[i] if refs is not None and i < len(refs) else f"{prefix}{i}"

    branches: list[WorkflowTask] = []
    for i, item in enumerate(inputs):
        task_input: dict[str, JSON] = dict(item) if isinstance(item, dict) else {"input": item}
        task_input["__index"] = i
        if workflow is not None:
            domains = item.get("taskToDomain") if isinstance(item, dict) else None
            sub = SubWorkflowParams(
                name=workflow,
                version=version,
                task_to_domain=dict(domains) if isinstance(domains, dict) else {},
            )
            branch = WorkflowTask(
                name=workflow,
                task_reference_name=ref_for(i),
                type=TaskType.SUB_WORKFLOW,
                input_parameters=task_input,
                optional=wt.optional,
                sub_workflow_param=sub,
            )
        else:
            branch = WorkflowTask(
                name=name,
                task_reference_name=ref_for(i),
                type=task_type or TaskType.SIMPLE,
                input_parameters=task_input,
                optional=wt.optional,
            )
        branches.append(branch)
    return tuple(branches)


def _classic(wt: WorkflowTask, params: dict[str, JSON]) -> tuple[WorkflowTask, ...]:
    key = wt.dynamic_fork_tasks_param
    if not key:
        raise TaskError(
            "no dynamic tasks: forkTaskInputs is not a list and dynamicForkTasksParam is not set"
        )
    raw = params.get(key)
    if not isinstance(raw, list):
        raise TaskError(
            f"Input '{key}' is invalid. Cannot deserialize a list of Workflow Tasks from "
            f"'{to_text(raw)}'"
        )
    reader = Reader()
    tasks = [read_workflow_task(reader, item, f"{key}[{i}]") for i, item in enumerate(raw)]
    if reader.problems:
        raise TaskError(f"Input '{key}' is invalid: {reader.problems[0]}")
    inputs_key = wt.dynamic_fork_tasks_input_param_name
    inputs = params.get(inputs_key) if inputs_key else None
    if not isinstance(inputs, dict):
        raise TaskError(
            "Input to the dynamically forked tasks is not a map -> expecting a map of K,V "
            f" but found {to_text(inputs)}"
        )
    return tuple(_with_input(t, inputs.get(t.task_reference_name)) for t in tasks)


def _with_input(task: WorkflowTask, extra: JSON) -> WorkflowTask:
    if extra is None:
        return task
    if not isinstance(extra, dict):
        raise TaskError(
            "Tasks could not be dynamically forked due to invalid input: the input of "
            f"{task.task_reference_name} is not a map but {to_text(extra)}"
        )
    return replace(task, input_parameters={**task.input_parameters, **extra})


def _check(branches: tuple[WorkflowTask, ...]) -> None:
    seen: set[str] = set()
    for task in branches:
        ref = task.task_reference_name
        if ref in seen:
            raise TaskError(f"dynamic fork has duplicate task reference name {ref!r}")
        seen.add(ref)
        kind = effective_type(task)
        if kind in UNSUPPORTED_BRANCH_TYPES:
            raise TaskError(
                f"dynamic fork task {ref!r} is a {kind}: a dynamic branch must be a single task "
                "(put nested flows in a SUB_WORKFLOW)"
            )
