"""Definition rules: every problem of a workflow or task definition, each with its path.

The rules are Conductor's (WorkflowTaskTypeConstraint, TaskReferenceNameUniqueConstraint,
TaskTimeoutConstraint, ConstraintParamUtil, the bean constraints on TaskDef/WorkflowDef/
WorkflowTask) plus the ones Conductor only discovers at run time (a FORK not followed by a
JOIN, a join on an unknown reference, an unparsable WAIT, a nested DO_WHILE, which Conductor's
documentation says is unsupported).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.definitions_json import read_task_def, read_workflow_def
from orchestrator.domain.problems import DefinitionError, Problem, Reader, key_path
from orchestrator.domain.task_rules import task_rules

__all__ = [
    "DefinitionError",
    "Problem",
    "TaskDefs",
    "load_task_def",
    "load_workflow_def",
    "validate_task_def",
    "validate_workflow_def",
    "walk_tasks",
]

JSON = Any
TaskDefs = Callable[[str], TaskDef | None]

# Conductor's ValidNameConstraint pattern for workflow names.
_NAME = re.compile(r"[A-Za-z0-9_<>{}#\s-]+")
# Conductor's EnvUtils.SystemParameters: roots that are not task references.
_SYSTEM_ROOTS = frozenset({"workflow", "CPEWF_TASK_ID", "NETFLIX_ENV", "NETFLIX_STACK"})
_EXPRESSION_ROOT = re.compile(r"(?<!\$)\$\{\s*([^.\[\]${}\s]+)")


def load_task_def(data: Mapping[str, JSON]) -> TaskDef:
    """The parsed TaskDef, or DefinitionError listing every problem."""
    reader = Reader()
    task_def = read_task_def(reader, data, "$")
    problems = _unique(reader.problems + task_def_rules(task_def, "$"))
    if problems:
        raise DefinitionError(problems)
    return task_def


def validate_task_def(data: Mapping[str, JSON]) -> list[Problem]:
    try:
        load_task_def(data)
    except DefinitionError as e:
        return list(e.problems)
    return []


def load_workflow_def(data: Mapping[str, JSON], task_defs: TaskDefs) -> WorkflowDef:
    """The parsed WorkflowDef, or DefinitionError listing every problem."""
    reader = Reader()
    workflow_def = read_workflow_def(reader, data, "$")
    problems = _unique(reader.problems + workflow_rules(workflow_def, "$", task_defs))
    if problems:
        raise DefinitionError(problems)
    return workflow_def


def validate_workflow_def(data: Mapping[str, JSON], task_defs: TaskDefs) -> list[Problem]:
    try:
        load_workflow_def(data, task_defs)
    except DefinitionError as e:
        return list(e.problems)
    return []


def _unique(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(dict.fromkeys(problems))


# -- TaskDef -----------------------------------------------------------------------------


def task_def_rules(td: TaskDef, path: str, *, inline: bool = False) -> list[Problem]:
    """`inline`: a workflow task's own taskDefinition, which Conductor does not hold to the
    registered TaskDef's rule that responseTimeoutSeconds must not exceed timeoutSeconds."""
    out: list[Problem] = []

    def at_least(key: str, value: int | None, minimum: int) -> None:
        if value is not None and value < minimum:
            out.append(Problem(key_path(path, key), f"{key} must be >= {minimum}, got {value}"))

    for key, value in (
        ("retryCount", td.retry_count),
        ("retryDelaySeconds", td.retry_delay_seconds),
        ("maxRetryDelaySeconds", td.max_retry_delay_seconds),
        ("backoffJitterMs", td.backoff_jitter_ms),
        ("timeoutSeconds", td.timeout_seconds),
        ("pollTimeoutSeconds", td.poll_timeout_seconds),
        ("totalTimeoutSeconds", td.total_timeout_seconds),
        ("rateLimitPerFrequency", td.rate_limit_per_frequency),
        ("rateLimitFrequencyInSeconds", td.rate_limit_frequency_in_seconds),
        ("concurrentExecLimit", td.concurrent_exec_limit),
    ):
        at_least(key, value, 0)
    at_least("backoffScaleFactor", td.backoff_scale_factor, 1)
    at_least("responseTimeoutSeconds", td.response_timeout_seconds, 1)
    if td.rate_limit_per_frequency > 0:
        at_least("rateLimitFrequencyInSeconds", td.rate_limit_frequency_in_seconds, 1)
    if not inline and 0 < td.timeout_seconds < td.response_timeout_seconds:
        out.append(
            Problem(
                key_path(path, "responseTimeoutSeconds"),
                f"responseTimeoutSeconds ({td.response_timeout_seconds}) must not exceed "
                f"timeoutSeconds ({td.timeout_seconds})",
            )
        )
    if 0 < td.total_timeout_seconds < td.timeout_seconds:
        out.append(
            Problem(
                key_path(path, "timeoutSeconds"),
                f"timeoutSeconds ({td.timeout_seconds}) must not exceed "
                f"totalTimeoutSeconds ({td.total_timeout_seconds})",
            )
        )
    return out


# -- WorkflowDef ---------------------------------------------------------------------------


def workflow_rules(wd: WorkflowDef, path: str, task_defs: TaskDefs) -> list[Problem]:
    out: list[Problem] = []
    if wd.name.strip() and not _NAME.fullmatch(wd.name):
        out.append(
            Problem(
                key_path(path, "name"),
                f"invalid name {wd.name!r}: allowed are letters, digits, spaces, '_', '-', "
                "'<', '>', '{', '}' and '#'",
            )
        )
    if wd.version < 1:
        out.append(Problem(key_path(path, "version"), f"version must be >= 1, got {wd.version}"))
    if wd.schema_version != 2:
        out.append(
            Problem(
                key_path(path, "schemaVersion"),
                f"only schemaVersion 2 is supported, got {wd.schema_version}",
            )
        )
    if wd.timeout_seconds < 0:
        out.append(
            Problem(
                key_path(path, "timeoutSeconds"),
                f"timeoutSeconds must be >= 0, got {wd.timeout_seconds}",
            )
        )
    tasks_path = key_path(path, "tasks")
    if not wd.tasks:
        out.append(Problem(tasks_path, "tasks must not be empty"))
    refs = _reference_problems(wd, tasks_path, out)
    for task, task_path, siblings, index in walk_tasks(wd.tasks, tasks_path):
        out.extend(task_rules(task, task_path, siblings, index, refs, task_defs))
        out.extend(_input_reference_problems(task, task_path, refs))
        if task.task_definition is not None:
            inline_def = key_path(task_path, "taskDefinition")
            out.extend(task_def_rules(task.task_definition, inline_def, inline=True))
        sub = task.sub_workflow_param
        if sub is not None and sub.workflow_definition is not None:
            inline_path = key_path(key_path(task_path, "subWorkflowParam"), "workflowDefinition")
            out.extend(workflow_rules(sub.workflow_definition, inline_path, task_defs))
    return out


def walk_tasks(
    tasks: tuple[WorkflowTask, ...], path: str
) -> Iterator[tuple[WorkflowTask, str, tuple[WorkflowTask, ...], int]]:
    """Every task of a task list, nested ones included (not inline sub-workflows), with its
    path, the list it sits in and its index there."""
    for index, task in enumerate(tasks):
        here = f"{path}[{index}]"
        yield task, here, tasks, index
        for case, branch in task.decision_cases.items():
            yield from walk_tasks(branch, key_path(key_path(here, "decisionCases"), case))
        yield from walk_tasks(task.default_case, key_path(here, "defaultCase"))
        for b, branch in enumerate(task.fork_tasks):
            yield from walk_tasks(branch, f"{key_path(here, 'forkTasks')}[{b}]")
        yield from walk_tasks(task.loop_over, key_path(here, "loopOver"))


def _reference_problems(wd: WorkflowDef, tasks_path: str, out: list[Problem]) -> set[str]:
    first_seen: dict[str, str] = {}
    for task, task_path, _, _ in walk_tasks(wd.tasks, tasks_path):
        ref = task.task_reference_name
        if not ref:
            continue  # reported by the parser as required
        if ref in first_seen:
            out.append(
                Problem(
                    key_path(task_path, "taskReferenceName"),
                    f"taskReferenceName {ref!r} is used twice (also at {first_seen[ref]})",
                )
            )
        else:
            first_seen[ref] = task_path
    return set(first_seen)


def _input_reference_problems(task: WorkflowTask, path: str, refs: set[str]) -> list[Problem]:
    """``${ref.…}`` in inputParameters must name a task of this workflow (ConstraintParamUtil)."""
    out: list[Problem] = []
    for value_path, text in _strings(task.input_parameters, key_path(path, "inputParameters")):
        for root in _EXPRESSION_ROOT.findall(text):
            if root not in _SYSTEM_ROOTS and root not in refs:
                out.append(
                    Problem(
                        value_path,
                        f"expression refers to {root!r}, which is not a taskReferenceName "
                        "in this workflow (nor 'workflow')",
                    )
                )
    return out


def _strings(value: JSON, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if "${" in value:
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, key_path(path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
