"""Conductor definition JSON <-> definition values: defaults, round trip, and typed problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.domain.definitions import (
    RetryLogic,
    SubWorkflowParams,
    TaskDef,
    TaskTimeoutPolicy,
    WorkflowDef,
    WorkflowTask,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.definitions_json import (
    DefinitionError,
    Problem,
    parse_task_def,
    parse_workflow_def,
    task_def_to_json,
    workflow_def_to_json,
)

FIXTURES = Path(__file__).parent / "fixtures" / "definitions"


def problems_of(data: Any, parse: Any = parse_workflow_def) -> set[Problem]:
    with pytest.raises(DefinitionError) as caught:
        parse(data)
    return set(caught.value.problems)


def test_task_def_gets_conductors_defaults() -> None:
    assert parse_task_def({"name": "resize"}) == TaskDef(
        name="resize",
        retry_count=3,
        retry_logic=RetryLogic.FIXED,
        retry_delay_seconds=60,
        timeout_policy=TaskTimeoutPolicy.TIME_OUT_WF,
        response_timeout_seconds=3600,
        rate_limit_frequency_in_seconds=1,
    )


def test_task_def_reads_every_field_and_ignores_unknown_ones() -> None:
    data = {
        "name": "resize",
        "description": "makes it small",
        "retryCount": 5,
        "retryLogic": "LINEAR_BACKOFF",
        "retryDelaySeconds": 2,
        "backoffScaleFactor": 3,
        "maxRetryDelaySeconds": 100,
        "backoffJitterMs": 250,
        "timeoutSeconds": 600,
        "timeoutPolicy": "RETRY",
        "responseTimeoutSeconds": 60,
        "pollTimeoutSeconds": 30,
        "totalTimeoutSeconds": 3600,
        "rateLimitPerFrequency": 10,
        "rateLimitFrequencyInSeconds": 5,
        "concurrentExecLimit": 4,
        "inputTemplate": {"size": 100},
        "ownerEmail": "a@b.c",
        "inputKeys": ["image"],
        "outputKeys": ["thumbnail"],
        "createTime": 1700000000000,
        "isolationGroupId": "ignored",
    }
    td = parse_task_def(data)
    assert td.retry_logic is RetryLogic.LINEAR_BACKOFF
    assert td.timeout_policy is TaskTimeoutPolicy.RETRY
    assert (td.retry_count, td.backoff_jitter_ms, td.poll_timeout_seconds) == (5, 250, 30)
    assert td.input_keys == ("image",) and td.input_template == {"size": 100}
    assert parse_task_def(task_def_to_json(td)) == td


def test_workflow_def_defaults_and_conductor_quirks() -> None:
    wd = parse_workflow_def(
        {
            "name": "w",
            "tasks": [{"name": "a", "taskReferenceName": "a"}],
            "outputParameters": {},
            "retryCount": None,
        }
    )
    assert wd.version == 1 and wd.schema_version == 2 and wd.restartable
    assert wd.timeout_policy is WorkflowTimeoutPolicy.ALERT_ONLY
    assert wd.output_parameters is None  # {} means "the last task's output"
    assert wd.tasks[0].type == "SIMPLE"


def test_switch_fields_sit_on_the_task_and_inline_fields_in_its_input() -> None:
    wd = parse_workflow_def(
        {
            "name": "w",
            "tasks": [
                {
                    "name": "s",
                    "taskReferenceName": "s",
                    "type": "SWITCH",
                    "evaluatorType": "javascript",
                    "expression": "$.x > 1 ? 'big' : 'small'",
                    "decisionCases": {"big": [{"name": "b", "taskReferenceName": "b"}]},
                },
                {
                    "name": "i",
                    "taskReferenceName": "i",
                    "type": "INLINE",
                    "inputParameters": {"evaluatorType": "graaljs", "expression": "1"},
                },
            ],
        }
    )
    switch, inline = wd.tasks
    assert (switch.evaluator_type, switch.expression) == ("javascript", "$.x > 1 ? 'big' : 'small'")
    assert switch.decision_cases["big"][0].task_reference_name == "b"
    assert inline.evaluator_type is None
    assert inline.input_parameters == {"evaluatorType": "graaljs", "expression": "1"}


def test_parsed_values_do_not_share_the_callers_json() -> None:
    data = {
        "name": "w",
        "tasks": [{"name": "a", "taskReferenceName": "a", "inputParameters": {"k": [1]}}],
    }
    wd = parse_workflow_def(data)
    data["tasks"][0]["inputParameters"]["k"].append(2)  # type: ignore[index]
    assert wd.tasks[0].input_parameters == {"k": [1]}


def test_lenient_scalars_as_jackson_accepts_them() -> None:
    td = parse_task_def({"name": "t", "retryCount": "5", "timeoutSeconds": 30.0})
    assert (td.retry_count, td.timeout_seconds) == (5, 30)
    wd = parse_workflow_def(
        {"name": "w", "restartable": "false", "tasks": [{"name": "a", "taskReferenceName": "a"}]}
    )
    assert wd.restartable is False


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"name": "t", "retryCount": "three"},
            Problem("$.retryCount", "expected an integer, got the string 'three'"),
        ),
        (
            {"name": "t", "timeoutSeconds": 1.5},
            Problem("$.timeoutSeconds", "expected an integer, got the number 1.5"),
        ),
        (
            {"name": "t", "retryCount": True},
            Problem("$.retryCount", "expected an integer, got a boolean"),
        ),
        (
            {"name": "t", "retryLogic": "RANDOM"},
            Problem(
                "$.retryLogic", "'RANDOM' is not one of FIXED, LINEAR_BACKOFF, EXPONENTIAL_BACKOFF"
            ),
        ),
        (
            {"name": "t", "timeoutPolicy": "NEVER"},
            Problem("$.timeoutPolicy", "'NEVER' is not one of RETRY, TIME_OUT_WF, ALERT_ONLY"),
        ),
        (
            {"name": "t", "inputKeys": "a"},
            Problem("$.inputKeys", "expected a list of strings, got the string 'a'"),
        ),
        (
            {"name": "t", "inputKeys": ["a", 1]},
            Problem("$.inputKeys[1]", "expected a string, got the number 1"),
        ),
        (
            {"name": "t", "inputTemplate": []},
            Problem("$.inputTemplate", "expected an object, got a list"),
        ),
        ({}, Problem("$.name", "name is required")),
        ({"name": 7}, Problem("$.name", "expected a string, got the number 7")),
        ([], Problem("$", "expected an object, got a list")),
    ],
)
def test_wrong_task_def_types_become_problems_with_paths(data: Any, expected: Problem) -> None:
    assert expected in problems_of(data, parse_task_def)


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ("nope", Problem("$.tasks", "expected a list of tasks, got the string 'nope'")),
        ([1], Problem("$.tasks[0]", "expected an object, got the number 1")),
        ([{"name": "a"}], Problem("$.tasks[0].taskReferenceName", "taskReferenceName is required")),
        (
            [{"name": "a", "taskReferenceName": "a", "type": "JOIN", "joinOn": ["x", 3]}],
            Problem("$.tasks[0].joinOn[1]", "expected a string, got the number 3"),
        ),
        (
            [
                {
                    "name": "s",
                    "taskReferenceName": "s",
                    "type": "SWITCH",
                    "decisionCases": {"yes": [{"taskReferenceName": "y"}]},
                }
            ],
            Problem("$.tasks[0].decisionCases.yes[0].name", "name is required"),
        ),
        (
            [{"name": "s", "taskReferenceName": "s", "decisionCases": {"a b": "x"}}],
            Problem(
                "$.tasks[0].decisionCases['a b']", "expected a list of tasks, got the string 'x'"
            ),
        ),
        (
            [{"name": "f", "taskReferenceName": "f", "forkTasks": [[{"name": "x"}], "y"]}],
            Problem("$.tasks[0].forkTasks[1]", "expected a list of tasks, got the string 'y'"),
        ),
        (
            [{"name": "f", "taskReferenceName": "f", "forkTasks": [[{"name": "x"}]]}],
            Problem(
                "$.tasks[0].forkTasks[0][0].taskReferenceName", "taskReferenceName is required"
            ),
        ),
        (
            [
                {
                    "name": "l",
                    "taskReferenceName": "l",
                    "loopOver": [{"name": "x", "taskReferenceName": "x", "optional": "maybe"}],
                }
            ],
            Problem(
                "$.tasks[0].loopOver[0].optional", "expected a boolean, got the string 'maybe'"
            ),
        ),
        (
            [
                {
                    "name": "a",
                    "taskReferenceName": "a",
                    "taskDefinition": {"name": "a", "retryCount": "x"},
                }
            ],
            Problem(
                "$.tasks[0].taskDefinition.retryCount", "expected an integer, got the string 'x'"
            ),
        ),
        (
            [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "subWorkflowParam": {"workflowDefinition": {"name": "in", "tasks": {}}},
                }
            ],
            Problem(
                "$.tasks[0].subWorkflowParam.workflowDefinition.tasks",
                "expected a list of tasks, got an object",
            ),
        ),
        (
            [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "subWorkflowParam": {"workflowDefinition": "${workflow.input.def}"},
                }
            ],
            Problem(
                "$.tasks[0].subWorkflowParam.workflowDefinition",
                "a workflowDefinition given as an expression is not supported; inline the definition",
            ),
        ),
        (
            [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "subWorkflowParam": {"name": "x", "taskToDomain": {"a": 1}},
                }
            ],
            Problem(
                "$.tasks[0].subWorkflowParam.taskToDomain.a", "expected a string, got the number 1"
            ),
        ),
        (
            [{"name": "a", "taskReferenceName": "a", "inputParameters": {"x": {1, 2}}}],
            Problem("$.tasks[0].inputParameters.x", "expected a JSON value, got set"),
        ),
    ],
)
def test_wrong_workflow_types_become_problems_with_paths(tasks: Any, expected: Problem) -> None:
    assert expected in problems_of({"name": "w", "tasks": tasks})


def test_every_type_problem_is_reported_not_just_the_first() -> None:
    problems = problems_of(
        {
            "name": 1,
            "version": "v",
            "tasks": [{"name": "a", "taskReferenceName": "a", "startDelay": "soon"}],
        }
    )
    assert {p.path for p in problems} == {"$.name", "$.version", "$.tasks[0].startDelay"}


def test_missing_tasks_is_a_problem() -> None:
    assert Problem("$.tasks", "tasks is required") in problems_of({"name": "w"})


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_real_definitions_round_trip(fixture: Path) -> None:
    wd = parse_workflow_def(json.loads(fixture.read_text()))
    assert parse_workflow_def(workflow_def_to_json(wd)) == wd
    assert json.loads(json.dumps(workflow_def_to_json(wd))) == workflow_def_to_json(wd)


# -- property: generated definitions survive to_json -> parse ---------------------------

names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8
).filter(str.strip)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=5), json_values, max_size=3)
counts = st.integers(-5, 10**6)
maybe_names = st.none() | names

task_defs = st.builds(
    TaskDef,
    name=names,
    retry_count=counts,
    retry_logic=st.sampled_from(RetryLogic),
    retry_delay_seconds=counts,
    backoff_scale_factor=counts,
    max_retry_delay_seconds=counts,
    backoff_jitter_ms=counts,
    timeout_seconds=counts,
    timeout_policy=st.sampled_from(TaskTimeoutPolicy),
    response_timeout_seconds=counts,
    poll_timeout_seconds=st.none() | counts,
    total_timeout_seconds=counts,
    rate_limit_per_frequency=counts,
    rate_limit_frequency_in_seconds=counts,
    concurrent_exec_limit=st.none() | counts,
    input_template=json_objects,
    owner_email=maybe_names,
    description=maybe_names,
    input_keys=st.lists(names, max_size=2).map(tuple),
    output_keys=st.lists(names, max_size=2).map(tuple),
)


def task_lists(depth: int) -> Any:
    if depth <= 0:
        return st.just(())
    return st.lists(workflow_tasks(depth - 1), max_size=2).map(tuple)


def workflow_tasks(depth: int) -> Any:
    return st.builds(
        WorkflowTask,
        name=names,
        task_reference_name=names,
        type=st.sampled_from(["SIMPLE", "SWITCH", "FORK_JOIN", "DO_WHILE", "MY_TYPE"]),
        input_parameters=json_objects,
        optional=st.booleans(),
        permissive=st.booleans(),
        start_delay=counts,
        async_complete=st.booleans(),
        retry_count=st.none() | counts,
        task_definition=st.none() | task_defs,
        description=maybe_names,
        evaluator_type=maybe_names,
        expression=maybe_names,
        case_value_param=maybe_names,
        case_expression=maybe_names,
        decision_cases=st.dictionaries(names, task_lists(depth), max_size=2),
        default_case=task_lists(depth),
        fork_tasks=st.lists(task_lists(depth), max_size=2).map(tuple),
        join_on=st.lists(names, max_size=2).map(tuple),
        default_exclusive_join_task=st.lists(names, max_size=2).map(tuple),
        dynamic_fork_tasks_param=maybe_names,
        dynamic_fork_tasks_input_param_name=maybe_names,
        dynamic_task_name_param=maybe_names,
        loop_condition=maybe_names,
        loop_over=task_lists(depth),
        sub_workflow_param=st.none() | sub_workflow_params(depth),
        sink=maybe_names,
    )


def sub_workflow_params(depth: int) -> Any:
    inline = workflow_defs(depth - 1) if depth > 0 else st.none()
    return st.builds(
        SubWorkflowParams,
        name=maybe_names,
        version=st.none() | counts,
        workflow_definition=st.none() | inline,
        task_to_domain=st.dictionaries(names, names, max_size=2),
    )


def workflow_defs(depth: int) -> Any:
    return st.builds(
        WorkflowDef,
        name=names,
        tasks=st.lists(workflow_tasks(depth), max_size=3).map(tuple),
        version=counts,
        description=maybe_names,
        input_parameters=st.lists(names, max_size=2).map(tuple),
        output_parameters=st.none() | json_objects.filter(bool),
        failure_workflow=maybe_names,
        schema_version=counts,
        restartable=st.booleans(),
        timeout_seconds=counts,
        timeout_policy=st.sampled_from(WorkflowTimeoutPolicy),
        variables=json_objects,
        input_template=json_objects,
        owner_email=maybe_names,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflow_defs(1))
def test_workflow_def_round_trips_through_json(wd: WorkflowDef) -> None:
    as_json = json.loads(json.dumps(workflow_def_to_json(wd)))  # really JSON
    assert parse_workflow_def(as_json) == wd


@settings(max_examples=150, deadline=None)
@given(task_defs)
def test_task_def_round_trips_through_json(td: TaskDef) -> None:
    assert parse_task_def(json.loads(json.dumps(task_def_to_json(td)))) == td
