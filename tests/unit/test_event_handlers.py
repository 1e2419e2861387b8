"""Event handlers, pure: the definition (Conductor's JSON, validation naming each field) and what
a handler does with a message (conditions, actions), checked against what Conductor 3.32.3 did
with the same handlers on the reference server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain import ids
from orchestrator.domain.event_actions import (
    EventMessage,
    NotRun,
    StartRequest,
    TaskUpdate,
    condition_holds,
    expand,
    handlers_for,
    plan,
)
from orchestrator.domain.event_handlers import (
    ActionType,
    event_handler_to_json,
    parse_event_handler,
)
from orchestrator.domain.problems import DefinitionError
from orchestrator.domain.statuses import TaskStatus

EVENT = "conductor:pub:ev_ref"
# What an EVENT task with sink "conductor" published on the reference server (its output).
PAYLOAD = {
    "event_produced": EVENT,
    "asyncComplete": True,
    "sink": "conductor",
    "workflowType": "pub",
    "correlationId": None,
    "k": "go",
    "nested": '{"a": 1}',
    "workflowVersion": 1,
    "workflowInstanceId": "wf-1",
}
MESSAGE = EventMessage(EVENT, "task-1", PAYLOAD)


@pytest.fixture(scope="module")
def scripts() -> Iterator[DefaultScriptEvaluator]:
    evaluator = DefaultScriptEvaluator()
    yield evaluator
    evaluator.close()


def handler(**fields: Any) -> Any:
    body = {
        "name": "h",
        "event": EVENT,
        "active": True,
        "actions": [{"action": "start_workflow", "start_workflow": {"name": "target"}}],
    }
    return parse_event_handler({**body, **fields})


def problems(body: Any) -> dict[str, str]:
    with pytest.raises(DefinitionError) as err:
        parse_event_handler(body)
    return {p.path: p.message for p in err.value.problems}


# -- the definition ----------------------------------------------------------------------------


def test_missing_name_event_and_actions_are_named_with_conductors_messages() -> None:
    assert problems({}) == {
        "$.name": "Missing event handler name",
        "$.event": "Missing event location",
        "$.actions": "No actions specified. Please specify at-least one action",
    }
    assert problems({"name": "", "event": "", "actions": []})["$.name"] == (
        "Missing event handler name"
    )


def test_refuses_what_could_never_run_naming_the_field() -> None:
    found = problems(
        {
            "name": "h",
            "event": "sqs:orders",
            "evaluatorType": "python",
            "actions": [
                {"action": "bogus"},
                {"action": "start_workflow"},
                {"action": "complete_task", "complete_task": {"output": {}}},
                {"action": "fail_task", "fail_task": {"workflowId": 3, "taskRefName": "x"}},
            ],
        }
    )
    assert set(found) == {
        "$.event",
        "$.evaluatorType",
        "$.actions[0].action",
        "$.actions[1].start_workflow",
        "$.actions[2].complete_task",
        "$.actions[3].fail_task.workflowId",
    }
    assert "use conductor:<workflow>:<queue>" in found["$.event"]
    assert "'bogus' is not one of start_workflow" in found["$.actions[0].action"]
    assert (
        problems({"name": "h", "event": "kafka:", "actions": [{"action": "fail_task"}]})["$.event"]
        == "'kafka:' names no queue: use kafka:<name>"
    )


def test_defaults_and_json_are_conductors() -> None:
    h = parse_event_handler(
        {"name": "h", "event": "kafka:orders", "actions": [{"action": "terminate_workflow"}]}
    )

    assert h.active is False  # Conductor's primitive boolean: inactive unless said so
    assert event_handler_to_json(h) == {
        "name": "h",
        "event": "kafka:orders",
        "actions": [{"action": "terminate_workflow", "expandInlineJSON": False}],
        "active": False,
    }
    full = handler(condition="$.k == 'go'", evaluatorType="javascript")
    assert parse_event_handler(event_handler_to_json(full)) == full


def test_only_active_handlers_of_the_event_match_in_name_order() -> None:
    handlers = [
        handler(name="b"),
        handler(name="a"),
        handler(name="off", active=False),
        handler(name="other", event="kafka:x"),
    ]

    assert [h.name for h in handlers_for(handlers, EVENT)] == ["a", "b"]


# -- conditions --------------------------------------------------------------------------------


def test_conditions_javascript_value_param_and_truthiness(scripts: DefaultScriptEvaluator) -> None:
    assert condition_holds(handler(), PAYLOAD, scripts)  # none: always
    assert condition_holds(handler(condition="$.k == 'go'"), PAYLOAD, scripts)
    assert not condition_holds(handler(condition="$.k == 'no'"), PAYLOAD, scripts)
    js = handler(condition="$.nested.a", evaluatorType="javascript")  # expanded for conditions
    assert condition_holds(js, PAYLOAD, scripts)
    assert not condition_holds(handler(condition="'yes'"), PAYLOAD, scripts)  # a string: false
    value_param = handler(condition="flag", evaluatorType="value-param")
    assert not condition_holds(value_param, PAYLOAD, scripts)  # absent key, as on the server
    assert condition_holds(value_param, {**PAYLOAD, "flag": 2}, scripts)


def test_expand_parses_json_strings_one_level_also_inside_lists() -> None:
    assert expand({"a": '{"b": "[1]"}', "l": ['{"c": 1}', "x"], "s": "{oops"}) == {
        "a": {"b": "[1]"},
        "l": [{"c": 1}, "x"],
        "s": "{oops",
    }


# -- actions -----------------------------------------------------------------------------------


def test_start_workflow_resolves_input_and_correlation_against_the_payload() -> None:
    h = handler(
        actions=[
            {
                "action": "start_workflow",
                "start_workflow": {
                    "name": "target",
                    "input": {"from": "${workflowInstanceId}", "k": "${k}", "whole": "${$}"},
                    "correlationId": "${k}",
                },
            }
        ]
    )

    [start] = plan(h, MESSAGE)

    assert start == StartRequest(
        handler="h",
        index=0,
        workflow_id=ids.event_workflow_id("h", EVENT, "task-1", 0),
        name="target",
        version=None,
        input={
            "from": "wf-1",
            "k": "go",
            "whole": PAYLOAD,
            "conductor.event.messageId": "task-1",
            "conductor.event.name": EVENT,
        },
        correlation_id="go",
        task_to_domain={},
    )


def test_complete_task_output_is_the_resolved_parameters_as_conductor_sets_it() -> None:
    h = handler(
        actions=[
            {
                "action": "complete_task",
                "complete_task": {
                    "workflowId": "${workflowInstanceId}",
                    "taskRefName": "ev_ref",
                    "output": {"got": "${k}", "n": "${nested.a}"},
                },
                "expandInlineJSON": True,
            }
        ]
    )

    [update] = plan(h, MESSAGE)

    # The output the reference server gave the EVENT task it completed this way.
    assert update == TaskUpdate(
        handler="h",
        index=0,
        status=TaskStatus.COMPLETED,
        workflow_id="wf-1",
        task_ref="ev_ref",
        task_id=None,
        output={
            "workflowId": "wf-1",
            "taskId": None,
            "taskRefName": "ev_ref",
            "reasonForIncompletion": None,
            "got": "go",
            "n": 1,
            "conductor.event.messageId": "task-1",
            "conductor.event.name": EVENT,
        },
        reason=None,
    )


def test_fail_task_by_id_carries_the_reason() -> None:
    h = handler(
        actions=[
            {
                "action": "fail_task",
                "fail_task": {"taskId": "${tid}", "reasonForIncompletion": "rejected: ${k}"},
            }
        ]
    )

    [update] = plan(h, EventMessage(EVENT, "m", {"tid": "t-9", "k": "no"}))

    assert isinstance(update, TaskUpdate)
    assert (update.status, update.task_id, update.task_ref, update.reason) == (
        TaskStatus.FAILED,
        "t-9",
        None,
        "rejected: no",
    )


def test_actions_conductor_does_not_run_and_unresolvable_targets_are_not_run() -> None:
    h = handler(
        actions=[
            {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "x"}},
            {"action": "complete_task", "complete_task": {"taskId": "${missing}"}},
        ]
    )

    not_run = plan(h, MESSAGE)

    assert not_run == [
        NotRun(
            "h",
            0,
            "terminate_workflow",
            f"Action not supported terminate_workflow for event {EVENT}",
        ),
        NotRun(
            "h",
            1,
            "complete_task",
            "No task found with taskId: None, reference name: None, workflowId: None",
        ),
    ]
    assert ActionType.TERMINATE_WORKFLOW.value == "terminate_workflow"


def test_the_same_message_gives_the_same_workflow_id_and_another_message_another() -> None:
    h = handler()
    [first] = plan(h, MESSAGE)
    [again] = plan(h, MESSAGE)
    [other] = plan(h, EventMessage(EVENT, "task-2", PAYLOAD))

    assert isinstance(first, StartRequest) and isinstance(other, StartRequest)
    assert first == again and first.workflow_id != other.workflow_id
