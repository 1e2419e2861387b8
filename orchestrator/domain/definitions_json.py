"""Conductor's camelCase definition JSON <-> the frozen values of definitions.py.

Parsing applies Conductor's defaults, ignores unknown fields, and turns wrong JSON types into
``DefinitionError(problems)`` with the path of each problem (never TypeError/KeyError). It
checks shapes only; the rules (unique references, FORK followed by JOIN, ...) are in
validation.py.

Faithful to Conductor's JSON:
- SWITCH's ``evaluatorType``/``expression`` are WorkflowTask fields; INLINE's live in its
  ``inputParameters`` (Conductor's Inline task reads them from the task input), so they stay
  there and are resolved like any other input.
- ``outputParameters``: absent and ``{}`` both mean "the last task's output" and parse to None.
- ``subWorkflowParam.workflowDefinition`` must be an inline definition object; the string form
  (a ``${...}`` expression) is refused as unsupported.
- JSON nulls read as "absent" (the default applies); integral floats and numeric strings are
  accepted for integer fields and "true"/"false" for booleans, as Jackson does.

Rendering emits every field (None-valued optional fields are omitted), so
``parse(to_json(x)) == x``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.domain.definitions import (
    RetryLogic,
    SubWorkflowParams,
    TaskDef,
    TaskTimeoutPolicy,
    WorkflowDef,
    WorkflowTask,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.problems import DefinitionError, Problem, Reader, key_path

__all__ = [
    "DefinitionError",
    "Problem",
    "parse_task_def",
    "parse_workflow_def",
    "read_task_def",
    "read_workflow_def",
    "read_workflow_task",
    "task_def_to_json",
    "workflow_def_to_json",
    "workflow_task_to_json",
]

JSON = Any


def parse_task_def(data: Mapping[str, JSON]) -> TaskDef:
    reader = Reader()
    task_def = read_task_def(reader, data, "$")
    if reader.problems:
        raise DefinitionError(reader.problems)
    return task_def


def parse_workflow_def(data: Mapping[str, JSON]) -> WorkflowDef:
    reader = Reader()
    workflow_def = read_workflow_def(reader, data, "$")
    if reader.problems:
        raise DefinitionError(reader.problems)
    return workflow_def


# -- reading (records problems in the reader, always returns a value) -----------------------


def read_task_def(r: Reader, data: JSON, path: str) -> TaskDef:
    d = r.obj(data, path) or {}
    return TaskDef(
        name=r.required_str(d, "name", path),
        retry_count=r.integer(d, "retryCount", path, 3),
        retry_logic=r.enum(d, "retryLogic", path, RetryLogic, RetryLogic.FIXED),
        retry_delay_seconds=r.integer(d, "retryDelaySeconds", path, 60),
        backoff_scale_factor=r.integer(d, "backoffScaleFactor", path, 1),
        max_retry_delay_seconds=r.integer(d, "maxRetryDelaySeconds", path, 0),
        backoff_jitter_ms=r.integer(d, "backoffJitterMs", path, 0),
        timeout_seconds=r.integer(d, "timeoutSeconds", path, 0),
        timeout_policy=r.enum(
            d, "timeoutPolicy", path, TaskTimeoutPolicy, TaskTimeoutPolicy.TIME_OUT_WF
        ),
        response_timeout_seconds=r.integer(d, "responseTimeoutSeconds", path, 3600),
        poll_timeout_seconds=r.opt_int(d, "pollTimeoutSeconds", path),
        total_timeout_seconds=r.integer(d, "totalTimeoutSeconds", path, 0),
        rate_limit_per_frequency=r.integer(d, "rateLimitPerFrequency", path, 0),
        rate_limit_frequency_in_seconds=r.integer(d, "rateLimitFrequencyInSeconds", path, 1),
        concurrent_exec_limit=r.opt_int(d, "concurrentExecLimit", path),
        input_template=r.json_obj(d, "inputTemplate", path) or {},
        owner_email=r.opt_str(d, "ownerEmail", path),
        description=r.opt_str(d, "description", path),
        input_keys=r.str_list(d, "inputKeys", path),
        output_keys=r.str_list(d, "outputKeys", path),
    )


def read_workflow_def(r: Reader, data: JSON, path: str) -> WorkflowDef:
    d = r.obj(data, path) or {}
    output = r.json_obj(d, "outputParameters", path)
    return WorkflowDef(
        name=r.required_str(d, "name", path),
        tasks=_task_list(r, d, "tasks", path, required=True),
        version=r.integer(d, "version", path, 1),
        description=r.opt_str(d, "description", path),
        input_parameters=r.str_list(d, "inputParameters", path),
        output_parameters=output or None,
        failure_workflow=r.opt_str(d, "failureWorkflow", path),
        schema_version=r.integer(d, "schemaVersion", path, 2),
        restartable=r.boolean(d, "restartable", path, True),
        timeout_seconds=r.integer(d, "timeoutSeconds", path, 0),
        timeout_policy=r.enum(
            d, "timeoutPolicy", path, WorkflowTimeoutPolicy, WorkflowTimeoutPolicy.ALERT_ONLY
        ),
        variables=r.json_obj(d, "variables", path) or {},
        input_template=r.json_obj(d, "inputTemplate", path) or {},
        owner_email=r.opt_str(d, "ownerEmail", path),
    )


def _task_list(
    r: Reader, d: Mapping[str, JSON], key: str, path: str, *, required: bool = False
) -> tuple[WorkflowTask, ...]:
    value = d.get(key)
    here = key_path(path, key)
    if value is None:
        if required:
            r.problem(here, f"{key} is required")
        return ()
    if not isinstance(value, list):
        r.wrong(here, "a list of tasks", value)
        return ()
    return tuple(_task(r, item, f"{here}[{i}]") for i, item in enumerate(value))


def _task(r: Reader, data: JSON, path: str) -> WorkflowTask:
    d = r.obj(data, path) or {}
    inline = d.get("taskDefinition")
    return WorkflowTask(
        name=r.required_str(d, "name", path),
        task_reference_name=r.required_str(d, "taskReferenceName", path),
        type=r.opt_str(d, "type", path) or "SIMPLE",
        input_parameters=r.json_obj(d, "inputParameters", path) or {},
        optional=r.boolean(d, "optional", path, False),
        permissive=r.boolean(d, "permissive", path, False),
        start_delay=r.integer(d, "startDelay", path, 0),
        async_complete=r.boolean(d, "asyncComplete", path, False),
        retry_count=r.opt_int(d, "retryCount", path),
        task_definition=None
        if inline is None
        else read_task_def(r, inline, key_path(path, "taskDefinition")),
        description=r.opt_str(d, "description", path),
        evaluator_type=r.opt_str(d, "evaluatorType", path),
        expression=r.opt_str(d, "expression", path),
        case_value_param=r.opt_str(d, "caseValueParam", path),
        case_expression=r.opt_str(d, "caseExpression", path),
        decision_cases=_cases(r, d, path),
        default_case=_task_list(r, d, "defaultCase", path),
        fork_tasks=_fork_tasks(r, d, path),
        join_on=r.str_list(d, "joinOn", path),
        default_exclusive_join_task=r.str_list(d, "defaultExclusiveJoinTask", path),
        dynamic_fork_tasks_param=r.opt_str(d, "dynamicForkTasksParam", path),
        dynamic_fork_tasks_input_param_name=r.opt_str(d, "dynamicForkTasksInputParamName", path),
        dynamic_task_name_param=r.opt_str(d, "dynamicTaskNameParam", path),
        loop_condition=r.opt_str(d, "loopCondition", path),
        loop_over=_task_list(r, d, "loopOver", path),
        sub_workflow_param=_sub_workflow(r, d.get("subWorkflowParam"), path),
        sink=r.opt_str(d, "sink", path),
        items=r.opt_str(d, "items", path),
    )


def _cases(r: Reader, d: Mapping[str, JSON], path: str) -> dict[str, tuple[WorkflowTask, ...]]:
    value = d.get("decisionCases")
    if value is None:
        return {}
    here = key_path(path, "decisionCases")
    cases = r.obj(value, here) or {}
    return {str(k): _task_list(r, cases, str(k), here) for k in cases}


def _fork_tasks(
    r: Reader, d: Mapping[str, JSON], path: str
) -> tuple[tuple[WorkflowTask, ...], ...]:
    value = d.get("forkTasks")
    if value is None:
        return ()
    here = key_path(path, "forkTasks")
    if not isinstance(value, list):
        r.wrong(here, "a list of task lists", value)
        return ()
    branches: list[tuple[WorkflowTask, ...]] = []
    for i, branch in enumerate(value):
        if isinstance(branch, list):
            branches.append(_branch(r, branch, f"{here}[{i}]"))
        else:
            r.wrong(f"{here}[{i}]", "a list of tasks", branch)
    return tuple(branches)


def _branch(r: Reader, items: list[JSON], path: str) -> tuple[WorkflowTask, ...]:
    return tuple(_task(r, item, f"{path}[{j}]") for j, item in enumerate(items))


def _sub_workflow(r: Reader, value: JSON, path: str) -> SubWorkflowParams | None:
    if value is None:
        return None
    here = key_path(path, "subWorkflowParam")
    d = r.obj(value, here) or {}
    inline = d.get("workflowDefinition")
    definition = None
    if isinstance(inline, str):
        r.problem(
            key_path(here, "workflowDefinition"),
            "a workflowDefinition given as an expression is not supported; inline the definition",
        )
    elif inline is not None:
        definition = read_workflow_def(r, inline, key_path(here, "workflowDefinition"))
    return SubWorkflowParams(
        name=r.opt_str(d, "name", here),
        version=r.opt_int(d, "version", here),
        workflow_definition=definition,
        task_to_domain=r.str_map(d, "taskToDomain", here),
    )


# -- rendering ------------------------------------------------------------------------------


def task_def_to_json(td: TaskDef) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "name": td.name,
        "description": td.description,
        "retryCount": td.retry_count,
        "retryLogic": td.retry_logic.value,
        "retryDelaySeconds": td.retry_delay_seconds,
        "backoffScaleFactor": td.backoff_scale_factor,
        "maxRetryDelaySeconds": td.max_retry_delay_seconds,
        "backoffJitterMs": td.backoff_jitter_ms,
        "timeoutSeconds": td.timeout_seconds,
        "timeoutPolicy": td.timeout_policy.value,
        "responseTimeoutSeconds": td.response_timeout_seconds,
        "pollTimeoutSeconds": td.poll_timeout_seconds,
        "totalTimeoutSeconds": td.total_timeout_seconds,
        "rateLimitPerFrequency": td.rate_limit_per_frequency,
        "rateLimitFrequencyInSeconds": td.rate_limit_frequency_in_seconds,
        "concurrentExecLimit": td.concurrent_exec_limit,
        "inputTemplate": td.input_template,
        "ownerEmail": td.owner_email,
        "inputKeys": list(td.input_keys),
        "outputKeys": list(td.output_keys),
    }
    return _without_none(out)


def workflow_def_to_json(wd: WorkflowDef) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "name": wd.name,
        "description": wd.description,
        "version": wd.version,
        "tasks": [_task_to_json(t) for t in wd.tasks],
        "inputParameters": list(wd.input_parameters),
        "outputParameters": wd.output_parameters,
        "failureWorkflow": wd.failure_workflow,
        "schemaVersion": wd.schema_version,
        "restartable": wd.restartable,
        "timeoutSeconds": wd.timeout_seconds,
        "timeoutPolicy": wd.timeout_policy.value,
        "variables": wd.variables,
        "inputTemplate": wd.input_template,
        "ownerEmail": wd.owner_email,
    }
    return _without_none(out)


def _task_to_json(t: WorkflowTask) -> dict[str, JSON]:
    out: dict[str, JSON] = {
        "name": t.name,
        "taskReferenceName": t.task_reference_name,
        "type": str(t.type),
        "description": t.description,
        "inputParameters": t.input_parameters,
        "optional": t.optional,
        "permissive": t.permissive or None,  # only when set: older renderings stay the same
        "startDelay": t.start_delay,
        "asyncComplete": t.async_complete,
        "retryCount": t.retry_count,
        "taskDefinition": None
        if t.task_definition is None
        else task_def_to_json(t.task_definition),
        "evaluatorType": t.evaluator_type,
        "expression": t.expression,
        "caseValueParam": t.case_value_param,
        "caseExpression": t.case_expression,
        "decisionCases": {k: [_task_to_json(c) for c in v] for k, v in t.decision_cases.items()},
        "defaultCase": [_task_to_json(c) for c in t.default_case],
        "forkTasks": [[_task_to_json(c) for c in branch] for branch in t.fork_tasks],
        "joinOn": list(t.join_on),
        "defaultExclusiveJoinTask": list(t.default_exclusive_join_task),
        "dynamicForkTasksParam": t.dynamic_fork_tasks_param,
        "dynamicForkTasksInputParamName": t.dynamic_fork_tasks_input_param_name,
        "dynamicTaskNameParam": t.dynamic_task_name_param,
        "loopCondition": t.loop_condition,
        "loopOver": [_task_to_json(c) for c in t.loop_over],
        "subWorkflowParam": None
        if t.sub_workflow_param is None
        else _sub_to_json(t.sub_workflow_param),
        "sink": t.sink,
        "items": t.items,
    }
    return _without_none(out)


def _sub_to_json(s: SubWorkflowParams) -> dict[str, JSON]:
    definition = s.workflow_definition
    out: dict[str, JSON] = {
        "name": s.name,
        "version": s.version,
        "workflowDefinition": None if definition is None else workflow_def_to_json(definition),
        "taskToDomain": s.task_to_domain,
    }
    return _without_none(out)


def _without_none(out: dict[str, JSON]) -> dict[str, JSON]:
    return {k: v for k, v in out.items() if v is not None}


# Public names for one WorkflowTask (the codec encodes tasks one at a time).
read_workflow_task = _task
workflow_task_to_json = _task_to_json
