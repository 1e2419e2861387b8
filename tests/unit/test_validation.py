"""Definition rules: given a definition, when validated, then every problem with its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.validation import (
    DefinitionError,
    Problem,
    load_task_def,
    load_workflow_def,
    validate_task_def,
    validate_workflow_def,
)

FIXTURES = Path(__file__).parent / "fixtures" / "definitions"
REGISTERED = {"a", "b", "c", "fetch_order", "email", "sms", "check", "custom_type"}


def registry(name: str) -> TaskDef | None:
    return TaskDef(name) if name in REGISTERED else None


def simple(ref: str, name: str = "a", **extra: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, **extra}


def task(ref: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": type_, **extra}


def wf(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "wf", "tasks": list(tasks), **extra}


def problems(data: dict[str, Any]) -> list[Problem]:
    return validate_workflow_def(data, registry)


def messages_at(data: dict[str, Any], path: str) -> list[str]:
    return [p.message for p in problems(data) if p.path == path]


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_real_world_definitions_load_without_problems(fixture: Path) -> None:
    data = json.loads(fixture.read_text())
    assert validate_workflow_def(data, registry) == []
    assert isinstance(load_workflow_def(data, registry), WorkflowDef)


def test_valid_minimal_workflow_has_no_problems() -> None:
    assert problems(wf(simple("first"))) == []


# -- workflow level ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"tasks": [simple("x")]}, "$.name", "name is required"),
        (wf(simple("x"), name="  "), "$.name", "name is required"),
        (wf(simple("x"), name="bad/name"), "$.name", "invalid name 'bad/name'"),
        (wf(simple("x"), version=0), "$.version", "version must be >= 1, got 0"),
        (wf(simple("x"), schemaVersion=1), "$.schemaVersion", "only schemaVersion 2"),
        (wf(simple("x"), timeoutSeconds=-1), "$.timeoutSeconds", "timeoutSeconds must be >= 0"),
        (wf(simple("x"), timeoutPolicy="RETRY"), "$.timeoutPolicy", "'RETRY' is not one of"),
        (wf(), "$.tasks", "tasks must not be empty"),
    ],
)
def test_workflow_level_rules(data: dict[str, Any], path: str, message: str) -> None:
    assert any(message in m for m in messages_at(data, path)), problems(data)


def test_reference_names_must_be_unique_across_nested_branches() -> None:
    data = wf(
        simple("resize"),
        task(
            "route",
            "SWITCH",
            evaluatorType="value-param",
            expression="k",
            decisionCases={"yes": [simple("resize")]},
        ),
    )
    assert problems(data) == [
        Problem(
            "$.tasks[1].decisionCases.yes[0].taskReferenceName",
            "taskReferenceName 'resize' is used twice (also at $.tasks[0])",
        )
    ]


def test_reference_names_inside_loops_and_forks_count_too() -> None:
    data = wf(
        task("fork", "FORK_JOIN", forkTasks=[[simple("x")], [simple("y")]]),
        task("join", "JOIN", joinOn=["x", "y"]),
        task("loop", "DO_WHILE", loopCondition="false", loopOver=[simple("x")]),
    )
    assert [p.path for p in problems(data)] == ["$.tasks[2].loopOver[0].taskReferenceName"]


def test_every_problem_is_listed_not_just_the_first() -> None:
    data = wf(
        simple("dup"),
        simple("dup"),
        task("t", "TERMINATE"),
        task("w", "WAIT", inputParameters={"duration": "soon"}),
        simple("neg", startDelay=-1),
        version=0,
    )
    paths = {p.path for p in problems(data)}
    assert paths == {
        "$.version",
        "$.tasks[1].taskReferenceName",
        "$.tasks[2].inputParameters.terminationStatus",
        "$.tasks[3].inputParameters.duration",
        "$.tasks[4].startDelay",
    }


def test_type_problems_and_rule_problems_are_reported_together() -> None:
    data = wf(simple("x", retryCount="three"), task("j", "JOIN", joinOn=["nope"]))
    assert {p.path for p in problems(data)} == {"$.tasks[0].retryCount", "$.tasks[1].joinOn[0]"}


def test_load_raises_with_all_problems_or_returns_the_definition() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_workflow_def(wf(simple("x", retryCount=-2), version=-1), registry)
    assert {p.path for p in caught.value.problems} == {"$.version", "$.tasks[0].retryCount"}
    assert "$.version" in str(caught.value)
    assert load_workflow_def(wf(simple("x")), registry).tasks[0].task_reference_name == "x"


def test_wrong_shape_never_raises_type_errors() -> None:
    for data in ({"name": "w", "tasks": "x"}, {"name": [], "tasks": [[]]}, {"tasks": [None, 3]}):
        assert problems(data)


# -- task types ------------------------------------------------------------------------------

FORK = task("fork", "FORK_JOIN", forkTasks=[[simple("x")], [simple("y")]])
JOIN = task("join", "JOIN", joinOn=["x", "y"])


@pytest.mark.parametrize(
    ("tasks", "path", "message"),
    [
        (
            [FORK, simple("z")],
            "$.tasks[0]",
            "FORK_JOIN 'fork' must be immediately followed by a JOIN task",
        ),
        ([FORK], "$.tasks[0]", "must be immediately followed by a JOIN task"),
        (
            [{**FORK, "type": "FORK"}, simple("z")],
            "$.tasks[0]",
            "FORK 'fork' must be immediately followed",
        ),
        (
            [task("fork", "FORK_JOIN", forkTasks=[]), JOIN],
            "$.tasks[0].forkTasks",
            "at least one branch",
        ),
        (
            [task("fork", "FORK_JOIN", forkTasks=[[simple("x")], []]), JOIN],
            "$.tasks[0].forkTasks[1]",
            "at least one task",
        ),
        (
            [FORK, task("join", "JOIN", joinOn=["x", "ghost"])],
            "$.tasks[1].joinOn[1]",
            "joinOn names 'ghost'",
        ),
        (
            [
                task(
                    "dyn",
                    "FORK_JOIN_DYNAMIC",
                    dynamicForkTasksParam="t",
                    dynamicForkTasksInputParamName="i",
                ),
                simple("z"),
            ],
            "$.tasks[0]",
            "FORK_JOIN_DYNAMIC 'dyn' must be immediately followed by a JOIN task",
        ),
        (
            [task("dyn", "FORK_JOIN_DYNAMIC"), task("j", "JOIN")],
            "$.tasks[0]",
            "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam",
        ),
        (
            [task("dyn", "FORK_JOIN_DYNAMIC", dynamicForkTasksParam="t"), task("j", "JOIN")],
            "$.tasks[0]",
            "FORK_JOIN_DYNAMIC needs",
        ),
        (
            [
                task("dyn", "FORK_JOIN_DYNAMIC", inputParameters={"forkTaskInputs": []}),
                task("j", "JOIN"),
            ],
            "$.tasks[0]",
            "forkTaskName (or forkTaskWorkflow)",
        ),
        (
            [task("x", "EXCLUSIVE_JOIN", joinOn=["x"], defaultExclusiveJoinTask=["nowhere"])],
            "$.tasks[0].defaultExclusiveJoinTask[0]",
            "defaultExclusiveJoinTask names 'nowhere'",
        ),
        (
            [task("s", "SWITCH", expression="k", decisionCases={"a": [simple("y")]})],
            "$.tasks[0].evaluatorType",
            "evaluatorType is required",
        ),
        (
            [task("s", "SWITCH", evaluatorType="value-param", decisionCases={"a": [simple("y")]})],
            "$.tasks[0].expression",
            "expression is required",
        ),
        (
            [
                task(
                    "s",
                    "SWITCH",
                    evaluatorType="python",
                    expression="k",
                    decisionCases={"a": [simple("y")]},
                )
            ],
            "$.tasks[0].evaluatorType",
            "unknown evaluatorType 'python': expected one of value-param, javascript, graaljs",
        ),
        (
            [task("s", "SWITCH", evaluatorType="javascript", expression="1")],
            "$.tasks[0].decisionCases",
            "at least one case",
        ),
        (
            [task("d", "DECISION", decisionCases={"a": [simple("y")]})],
            "$.tasks[0].caseValueParam",
            "caseValueParam or caseExpression is required",
        ),
        (
            [task("l", "DO_WHILE", loopOver=[simple("y")])],
            "$.tasks[0].loopCondition",
            "loopCondition is required",
        ),
        (
            [task("l", "DO_WHILE", loopCondition="false")],
            "$.tasks[0].loopOver",
            "loopOver must have at least one task",
        ),
        (
            [
                task(
                    "l",
                    "DO_WHILE",
                    loopCondition="false",
                    loopOver=[
                        task("inner", "DO_WHILE", loopCondition="false", loopOver=[simple("y")])
                    ],
                )
            ],
            "$.tasks[0].loopOver[0]",
            "a DO_WHILE inside a DO_WHILE is not supported",
        ),
        (
            [task("c", "SUB_WORKFLOW")],
            "$.tasks[0].subWorkflowParam",
            "subWorkflowParam is required",
        ),
        (
            [task("c", "SUB_WORKFLOW", subWorkflowParam={})],
            "$.tasks[0].subWorkflowParam.name",
            "a name or an inline workflowDefinition",
        ),
        (
            [task("c", "SUB_WORKFLOW", subWorkflowParam={"name": "x", "version": 0})],
            "$.tasks[0].subWorkflowParam.version",
            "version must be >= 1",
        ),
        (
            [
                task(
                    "c",
                    "SUB_WORKFLOW",
                    subWorkflowParam={
                        "workflowDefinition": {
                            "name": "inner",
                            "tasks": [simple("q", name="nope", startDelay=-1)],
                        }
                    },
                )
            ],
            "$.tasks[0].subWorkflowParam.workflowDefinition.tasks[0].startDelay",
            "startDelay must be >= 0",
        ),
        (
            [task("d", "DYNAMIC")],
            "$.tasks[0].dynamicTaskNameParam",
            "dynamicTaskNameParam is required",
        ),
        (
            [task("i", "INLINE", inputParameters={"evaluatorType": "javascript"})],
            "$.tasks[0].inputParameters.expression",
            "is required for an INLINE task",
        ),
        (
            [task("i", "INLINE", inputParameters={"expression": "1"})],
            "$.tasks[0].inputParameters.evaluatorType",
            "is required for an INLINE task",
        ),
        (
            [task("i", "INLINE", inputParameters={"evaluatorType": "lua", "expression": "1"})],
            "$.tasks[0].inputParameters.evaluatorType",
            "unknown evaluatorType 'lua'",
        ),
        (
            [task("l", "LAMBDA")],
            "$.tasks[0].inputParameters.scriptExpression",
            "scriptExpression is required for a LAMBDA task",
        ),
        (
            [task("l", "LAMBDA", inputParameters={"scriptExpression": 3})],
            "$.tasks[0].inputParameters.scriptExpression",
            "must be a non-empty string",
        ),
        (
            [task("j", "JSON_JQ_TRANSFORM")],
            "$.tasks[0].inputParameters.queryExpression",
            "queryExpression is required",
        ),
        (
            [task("t", "TERMINATE", inputParameters={"terminationStatus": "DONE"})],
            "$.tasks[0].inputParameters.terminationStatus",
            "got 'DONE'",
        ),
        (
            [
                task(
                    "t", "TERMINATE", optional=True, inputParameters={"terminationStatus": "FAILED"}
                )
            ],
            "$.tasks[0].optional",
            "cannot be optional",
        ),
        (
            [task("h", "HTTP")],
            "$.tasks[0].inputParameters.http_request",
            "http_request (with uri and method) is required",
        ),
        (
            [task("h", "HTTP", inputParameters={"http_request": {"method": "GET"}})],
            "$.tasks[0].inputParameters.http_request.uri",
            "http_request.uri is required",
        ),
        (
            [task("h", "HTTP", inputParameters={"http_request": {"uri": "http://x"}})],
            "$.tasks[0].inputParameters.http_request.method",
            "http_request.method is required",
        ),
        (
            [task("h", "HTTP", inputParameters={"http_request": 5})],
            "$.tasks[0].inputParameters.http_request",
            "must be an object",
        ),
        (
            [task("w", "WAIT", inputParameters={"duration": "1s", "until": "2030-01-01"})],
            "$.tasks[0].inputParameters",
            "either duration or until, not both",
        ),
        (
            [task("w", "WAIT", inputParameters={"duration": "soon"})],
            "$.tasks[0].inputParameters.duration",
            "not a valid duration",
        ),
        (
            [task("w", "WAIT", inputParameters={"until": "someday"})],
            "$.tasks[0].inputParameters.until",
            "not a valid date",
        ),
        (
            [task("w", "WAIT", inputParameters={"duration": 5})],
            "$.tasks[0].inputParameters.duration",
            "must be a string",
        ),
        ([task("e", "EVENT")], "$.tasks[0].sink", "sink is required"),
        (
            [task("k", "KAFKA_PUBLISH")],
            "$.tasks[0].inputParameters.kafka_request",
            "kafka_request is required",
        ),
        (
            [task("s", "START_WORKFLOW")],
            "$.tasks[0].inputParameters.startWorkflow",
            "startWorkflow (with name) is required",
        ),
        (
            [task("s", "START_WORKFLOW", inputParameters={"startWorkflow": {}})],
            "$.tasks[0].inputParameters.startWorkflow.name",
            "startWorkflow.name is required",
        ),
        ([simple("x", retryCount=-1)], "$.tasks[0].retryCount", "retryCount must be >= 0, got -1"),
        ([simple("x", startDelay=-5)], "$.tasks[0].startDelay", "startDelay must be >= 0, got -5"),
        (
            [simple("x", inputParameters={"v": "${ghost.output.v}"})],
            "$.tasks[0].inputParameters.v",
            "expression refers to 'ghost', which is not a taskReferenceName",
        ),
        (
            [simple("x", name="q", taskDefinition={"name": "q", "responseTimeoutSeconds": 0})],
            "$.tasks[0].taskDefinition.responseTimeoutSeconds",
            "responseTimeoutSeconds must be >= 1",
        ),
    ],
)
def test_task_type_rules(tasks: list[dict[str, Any]], path: str, message: str) -> None:
    data = wf(*tasks)
    assert any(message in m for m in messages_at(data, path)), problems(data)


@pytest.mark.parametrize(
    "tasks",
    [
        [task("w", "WAIT", inputParameters={"duration": "${workflow.input.d}"})],
        [task("w", "WAIT", inputParameters={"until": "${workflow.input.u}"})],
        [task("w", "WAIT")],
        [task("h", "HTTP", inputParameters={"http_request": "${workflow.input.req}"})],
        [task("h", "HTTP", inputParameters={"uri": "http://x", "method": "GET"})],
        [
            task(
                "h",
                "HTTP",
                taskDefinition={
                    "name": "h",
                    "inputTemplate": {"http_request": {"uri": "u", "method": "GET"}},
                },
            )
        ],
        [task("t", "TERMINATE", inputParameters={"terminationStatus": "${workflow.input.s}"})],
        [task("t", "TERMINATE", inputParameters={"terminationStatus": "TERMINATED"})],
        [
            task(
                "i",
                "INLINE",
                inputParameters={"evaluatorType": "${workflow.input.e}", "expression": "1"},
            )
        ],
        [task("x", "HUMAN"), task("y", "NOOP"), task("z", "SET_VARIABLE")],
        [simple("x", inputParameters={"id": "${CPEWF_TASK_ID}", "esc": "$${ghost.output}"})],
        [simple("x", name="inline_only", taskDefinition={"name": "inline_only"})],
        [task("c", "SUB_WORKFLOW", subWorkflowParam={"name": "child"})],
        # verified on Conductor 3.32.3: a worker task nobody registered runs with the default
        # TaskDef, and an inline taskDefinition may have responseTimeout > timeout
        [simple("x", name="unregistered")],
        [task("x", "MY_WORKER_TYPE")],
        [
            simple(
                "x",
                name="inl",
                taskDefinition={"name": "inl", "timeoutSeconds": 10, "responseTimeoutSeconds": 20},
            )
        ],
    ],
)
def test_accepts_what_conductor_accepts(tasks: list[dict[str, Any]]) -> None:
    assert problems(wf(*tasks)) == []


def test_inline_sub_workflow_has_its_own_reference_scope() -> None:
    inner = {"name": "inner", "tasks": [simple("x")]}
    data = wf(
        simple("x"), task("c", "SUB_WORKFLOW", subWorkflowParam={"workflowDefinition": inner})
    )
    assert problems(data) == []


# -- TaskDef -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"name": "t", "retryCount": -1}, "$.retryCount", "retryCount must be >= 0, got -1"),
        ({"name": "t", "timeoutSeconds": -1}, "$.timeoutSeconds", "timeoutSeconds must be >= 0"),
        ({"name": "t", "retryDelaySeconds": -1}, "$.retryDelaySeconds", ">= 0"),
        ({"name": "t", "pollTimeoutSeconds": -1}, "$.pollTimeoutSeconds", ">= 0"),
        ({"name": "t", "totalTimeoutSeconds": -1}, "$.totalTimeoutSeconds", ">= 0"),
        ({"name": "t", "backoffJitterMs": -1}, "$.backoffJitterMs", ">= 0"),
        ({"name": "t", "maxRetryDelaySeconds": -1}, "$.maxRetryDelaySeconds", ">= 0"),
        ({"name": "t", "concurrentExecLimit": -1}, "$.concurrentExecLimit", ">= 0"),
        ({"name": "t", "rateLimitPerFrequency": -1}, "$.rateLimitPerFrequency", ">= 0"),
        (
            {"name": "t", "rateLimitPerFrequency": 5, "rateLimitFrequencyInSeconds": 0},
            "$.rateLimitFrequencyInSeconds",
            ">= 1",
        ),
        ({"name": "t", "backoffScaleFactor": 0}, "$.backoffScaleFactor", ">= 1"),
        ({"name": "t", "responseTimeoutSeconds": 0}, "$.responseTimeoutSeconds", ">= 1"),
        (
            {"name": "t", "timeoutSeconds": 60, "responseTimeoutSeconds": 120},
            "$.responseTimeoutSeconds",
            "responseTimeoutSeconds (120) must not exceed timeoutSeconds (60)",
        ),
        (
            {
                "name": "t",
                "timeoutSeconds": 600,
                "totalTimeoutSeconds": 300,
                "responseTimeoutSeconds": 60,
            },
            "$.timeoutSeconds",
            "timeoutSeconds (600) must not exceed totalTimeoutSeconds (300)",
        ),
        ({"name": "t", "retryLogic": "SOMETIMES"}, "$.retryLogic", "is not one of"),
        ({"name": "t", "timeoutPolicy": "IGNORE"}, "$.timeoutPolicy", "is not one of"),
        ({"name": ""}, "$.name", "name is required"),
    ],
)
def test_task_def_rules(data: dict[str, Any], path: str, message: str) -> None:
    found = [p.message for p in validate_task_def(data) if p.path == path]
    assert any(message in m for m in found), validate_task_def(data)


def test_response_timeout_equal_to_timeout_is_fine() -> None:
    assert (
        validate_task_def({"name": "t", "timeoutSeconds": 60, "responseTimeoutSeconds": 60}) == []
    )


def test_load_task_def_returns_or_raises_with_every_problem() -> None:
    assert load_task_def({"name": "t", "retryCount": 1}).retry_count == 1
    with pytest.raises(DefinitionError) as caught:
        load_task_def({"name": "t", "retryCount": -1, "timeoutSeconds": "x"})
    assert {p.path for p in caught.value.problems} == {"$.retryCount", "$.timeoutSeconds"}


def test_permissive_must_be_a_boolean_and_names_the_field() -> None:
    assert problems(wf(simple("x", permissive=True), simple("y", permissive="false"))) == []
    [problem] = problems(wf(simple("x", permissive="maybe")))
    assert problem.path == "$.tasks[0].permissive" and "a boolean" in problem.message
