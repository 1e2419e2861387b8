"""Conductor workflow and task definitions as frozen values.

Field names are the snake_case of Conductor's camelCase JSON names; defaults are the ones
Conductor's code applies (see shared/CONDUCTOR.md). JSON values (input parameters, templates,
outputs) are kept as plain JSON-compatible Python values and must be treated as read-only.

Parsing from / rendering to Conductor JSON and validation live in `definitions_json.py` and
`validation.py`; this module only holds the shapes so every other module can share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = Any  # a JSON-compatible value: dict, list, str, int, float, bool or None


class RetryLogic(StrEnum):
    FIXED = "FIXED"
    LINEAR_BACKOFF = "LINEAR_BACKOFF"
    EXPONENTIAL_BACKOFF = "EXPONENTIAL_BACKOFF"


class TaskTimeoutPolicy(StrEnum):
    RETRY = "RETRY"
    TIME_OUT_WF = "TIME_OUT_WF"
    ALERT_ONLY = "ALERT_ONLY"


class WorkflowTimeoutPolicy(StrEnum):
    TIME_OUT_WF = "TIME_OUT_WF"
    ALERT_ONLY = "ALERT_ONLY"


class TaskType(StrEnum):
    """Built-in task types. Any other type name on a WorkflowTask behaves as SIMPLE."""

    SIMPLE = "SIMPLE"
    HTTP = "HTTP"
    INLINE = "INLINE"
    LAMBDA = "LAMBDA"  # deprecated in Conductor (INLINE's predecessor), still run as it does
    JSON_JQ_TRANSFORM = "JSON_JQ_TRANSFORM"
    SWITCH = "SWITCH"
    DECISION = "DECISION"
    FORK_JOIN = "FORK_JOIN"
    FORK = "FORK"  # alias of FORK_JOIN
    JOIN = "JOIN"
    FORK_JOIN_DYNAMIC = "FORK_JOIN_DYNAMIC"
    DO_WHILE = "DO_WHILE"
    SUB_WORKFLOW = "SUB_WORKFLOW"
    START_WORKFLOW = "START_WORKFLOW"
    DYNAMIC = "DYNAMIC"
    WAIT = "WAIT"
    HUMAN = "HUMAN"
    TERMINATE = "TERMINATE"
    SET_VARIABLE = "SET_VARIABLE"
    EVENT = "EVENT"
    KAFKA_PUBLISH = "KAFKA_PUBLISH"
    NOOP = "NOOP"
    EXCLUSIVE_JOIN = "EXCLUSIVE_JOIN"


@dataclass(frozen=True, slots=True)
class TaskDef:
    name: str
    retry_count: int = 3
    retry_logic: RetryLogic = RetryLogic.FIXED
    retry_delay_seconds: int = 60
    backoff_scale_factor: int = 1
    max_retry_delay_seconds: int = 0  # 0 = no cap
    backoff_jitter_ms: int = 0
    timeout_seconds: int = 0  # 0 = none; counted from the attempt's first IN_PROGRESS
    timeout_policy: TaskTimeoutPolicy = TaskTimeoutPolicy.TIME_OUT_WF
    response_timeout_seconds: int = 3600
    poll_timeout_seconds: int | None = None
    total_timeout_seconds: int = 0  # 0 = off; budget over all attempts
    rate_limit_per_frequency: int = 0  # 0 = no limit
    rate_limit_frequency_in_seconds: int = 1
    concurrent_exec_limit: int | None = None
    input_template: dict[str, JSON] = field(default_factory=dict)
    owner_email: str | None = None
    description: str | None = None
    input_keys: tuple[str, ...] = ()
    output_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubWorkflowParams:
    name: str | None = None
    version: int | None = None  # None = latest at the time the child starts
    workflow_definition: WorkflowDef | None = None  # inline definition
    task_to_domain: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkflowTask:
    name: str
    task_reference_name: str
    type: str = TaskType.SIMPLE  # any unknown type name is treated as SIMPLE
    input_parameters: dict[str, JSON] = field(default_factory=dict)
    optional: bool = False
    # Conductor's `permissive`: its failure (once retries are spent) lets the workflow go on;
    # the workflow fails when it ends (a JOIN waiting on it fails once all it waits for ended)
    permissive: bool = False
    start_delay: int = 0  # seconds
    async_complete: bool = False
    retry_count: int | None = None  # overrides the TaskDef's retryCount when set
    task_definition: TaskDef | None = None  # inline TaskDef
    description: str | None = None
    # SWITCH / DECISION
    evaluator_type: str | None = None  # value-param | javascript | graaljs
    expression: str | None = None
    case_value_param: str | None = None  # DECISION
    case_expression: str | None = None  # DECISION
    decision_cases: dict[str, tuple[WorkflowTask, ...]] = field(default_factory=dict)
    default_case: tuple[WorkflowTask, ...] = ()
    # FORK_JOIN / JOIN / EXCLUSIVE_JOIN
    fork_tasks: tuple[tuple[WorkflowTask, ...], ...] = ()
    join_on: tuple[str, ...] = ()
    default_exclusive_join_task: tuple[str, ...] = ()
    # FORK_JOIN_DYNAMIC
    dynamic_fork_tasks_param: str | None = None
    dynamic_fork_tasks_input_param_name: str | None = None
    # DYNAMIC
    dynamic_task_name_param: str | None = None
    # DO_WHILE
    loop_condition: str | None = None
    loop_over: tuple[WorkflowTask, ...] = ()
    # SUB_WORKFLOW
    sub_workflow_param: SubWorkflowParams | None = None
    # EVENT
    sink: str | None = None
    # DO_WHILE list iteration (Conductor's `items`: an expression of the list to iterate over)
    items: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowDef:
    name: str
    tasks: tuple[WorkflowTask, ...]
    version: int = 1
    description: str | None = None
    input_parameters: tuple[str, ...] = ()  # documentation only
    output_parameters: dict[str, JSON] | None = None  # None = the last task's output
    failure_workflow: str | None = None
    schema_version: int = 2
    restartable: bool = True
    timeout_seconds: int = 0  # 0 = none
    timeout_policy: WorkflowTimeoutPolicy = WorkflowTimeoutPolicy.ALERT_ONLY
    variables: dict[str, JSON] = field(default_factory=dict)
    input_template: dict[str, JSON] = field(default_factory=dict)
    owner_email: str | None = None


def effective_type(task: WorkflowTask) -> TaskType:
    """The built-in type a WorkflowTask runs as (unknown names and FORK map to their kind)."""
    try:
        kind = TaskType(task.type)
    except ValueError:
        return TaskType.SIMPLE
    return TaskType.FORK_JOIN if kind is TaskType.FORK else kind
