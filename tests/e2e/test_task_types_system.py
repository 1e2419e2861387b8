"""System tasks on the real stack: HTTP (against a loopback server), INLINE (javascript in
QuickJS, value-param), JSON_JQ_TRANSFORM, SWITCH (value-param, javascript) and DECISION, TERMINATE,
SET_VARIABLE, NOOP, EVENT (kafka sink) and KAFKA_PUBLISH.

HTTP, EVENT and KAFKA_PUBLISH run in the built-in executors (`orchestrator worker --system`),
the others inside the processor. One processor and one worker process serve the module; the
fixture starts every workflow at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.e2e.e2e_defs import WORKERS_MODULE, simple, system, task_defs, workflow
from tests.e2e.e2e_http import http_server
from tests.e2e.e2e_support import (
    Stack,
    of_task,
    output_of,
    read_topic,
    scheduled,
    stack_for_module,
    the,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]


def scenarios(prefix: str, http_url: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (definition, input) of every workflow of this module."""
    return {
        "http": (
            workflow(
                "e2e_http",
                system(
                    "call",
                    "HTTP",
                    inputParameters={
                        "http_request": {
                            "uri": f"{http_url}/echo",
                            "method": "POST",
                            "headers": {"X-E2E": "${workflow.input.tag}"},
                            "body": {"order": "${workflow.input.order}"},
                        }
                    },
                ),
                system(
                    "missing",
                    "HTTP",
                    optional=True,
                    inputParameters={"http_request": {"uri": f"{http_url}/x", "method": "GET"}},
                ),
            ),
            {"tag": "t-1", "order": 5},
        ),
        # Loopback is allowed for this module's server; link-local (the cloud metadata
        # endpoint) is not: SSRF protection by default.
        "metadata": (
            workflow(
                "e2e_http_metadata",
                system(
                    "steal",
                    "HTTP",
                    inputParameters={
                        "http_request": {
                            "uri": "http://169.254.169.254/latest/meta-data/iam/",
                            "method": "GET",
                        }
                    },
                ),
            ),
            {},
        ),
        "inline": (
            workflow(
                "e2e_inline",
                system(
                    "js",
                    "INLINE",
                    inputParameters={
                        "evaluatorType": "javascript",
                        "expression": "function f() { return $.xs.map(x => x * $.k); } f();",
                        "xs": "${workflow.input.xs}",
                        "k": 3,
                    },
                ),
                system(
                    "vp",
                    "INLINE",
                    inputParameters={
                        "evaluatorType": "value-param",
                        "expression": "pick",
                        "pick": "${js.output.result}",
                    },
                ),
            ),
            {"xs": [1, 2, 3]},
        ),
        "jq": (
            workflow(
                "e2e_jq",
                system(
                    "jq",
                    "JSON_JQ_TRANSFORM",
                    inputParameters={
                        "people": "${workflow.input.people}",
                        "queryExpression": ".people | map(select(.age >= 18) | .name)",
                    },
                ),
            ),
            {"people": [{"name": "ana", "age": 30}, {"name": "bo", "age": 9}]},
        ),
        "switch": (
            workflow(
                "e2e_switch",
                system(
                    "by_value",
                    "SWITCH",
                    evaluatorType="value-param",
                    expression="kind",
                    inputParameters={"kind": "${workflow.input.kind}"},
                    decisionCases={"a": [simple("case_a")], "b": [simple("case_b")]},
                    defaultCase=[simple("value_default")],
                ),
                system(
                    "by_js",
                    "SWITCH",
                    evaluatorType="javascript",
                    expression="$.n > 5 ? 'big' : 'small'",
                    inputParameters={"n": "${workflow.input.n}"},
                    decisionCases={"big": [simple("big")], "small": [simple("small")]},
                ),
                system(
                    "decision",
                    "DECISION",
                    caseValueParam="kind",
                    inputParameters={"kind": "zzz"},
                    decisionCases={"a": [simple("decision_a")]},
                    defaultCase=[simple("decision_default")],
                ),
            ),
            {"kind": "b", "n": 9},
        ),
        "terminate": (
            workflow(
                "e2e_terminate",
                simple("first"),
                system(
                    "stop",
                    "TERMINATE",
                    inputParameters={
                        "terminationStatus": "FAILED",
                        "terminationReason": "stopped by ${workflow.input.who}",
                        "workflowOutput": {"first": "${first.output.ref}"},
                    },
                ),
                simple("never"),
            ),
            {"who": "e2e"},
        ),
        "set_variable": (
            workflow(
                "e2e_set_variable",
                system(
                    "set",
                    "SET_VARIABLE",
                    inputParameters={"greeting": "hi", "n": "${workflow.input.n}"},
                ),
                simple("use", inputParameters={"g": "${workflow.variables.greeting}"}),
                system("noop", "NOOP"),
                outputParameters={"vars": "${workflow.variables}", "used": "${use.output.echo.g}"},
            ),
            {"n": 3},
        ),
        "event": (
            workflow(
                "e2e_event",
                system(
                    "publish",
                    "EVENT",
                    sink=f"kafka:{prefix}.sink-event",
                    inputParameters={"orderId": "${workflow.input.orderId}"},
                ),
            ),
            {"orderId": "o-17"},
        ),
        "kafka_publish": (
            workflow(
                "e2e_kafka_publish",
                system(
                    "produce",
                    "KAFKA_PUBLISH",
                    inputParameters={
                        "kafka_request": {
                            "topic": f"{prefix}.sink-kafka",
                            "value": {"orderId": "${workflow.input.orderId}"},
                            "key": "${workflow.input.orderId}",
                            "headers": {"X-Source": "e2e"},
                        }
                    },
                ),
            ),
            {"orderId": "o-18"},
        ),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with (
        http_server() as http,
        stack_for_module(
            tmp_path_factory.mktemp("task-types-system"),
            workers=[WORKERS_MODULE],
            system=True,
            definitions=task_defs(),
            sink_topics=["{prefix}.sink-event", "{prefix}.sink-kafka"],
            env={"ORCHESTRATOR_HTTP_ALLOW_NETWORKS": "127.0.0.0/8"},  # the loopback server
        ) as s,
    ):
        for name, (definition, workflow_input) in scenarios(s.rt.prefix, http.url).items():
            s.start(name, definition, workflow_input)
        s.sender.flush()
        yield s


def test_http_task_calls_the_server_and_captures_the_response(stack: Stack) -> None:
    h = stack.finished("http")
    response = output_of(h, "call")["response"]
    assert response["statusCode"] == 200
    assert response["body"] == {"received": {"order": 5}, "header": "t-1", "method": "POST"}
    assert response["headers"]["content-type"] == ["application/json"]
    missing = scheduled(h, "missing")[0]
    failed = of_task(h, missing.task_id, ev.TaskFailed)[0]
    assert failed.status is TaskStatus.FAILED and failed.reason.startswith("HTTP 404")
    assert failed.output["response"]["statusCode"] == 404
    assert failed.output["response"]["body"] == "nothing here"
    assert of_task(h, missing.task_id, ev.TaskCompletedWithErrors)
    assert isinstance(h[-1], ev.WorkflowCompleted)


def test_http_task_to_the_cloud_metadata_endpoint_fails_with_the_reason(stack: Stack) -> None:
    h = stack.finished("metadata")
    steal = scheduled(h, "steal")[0]
    [failed] = of_task(h, steal.task_id, ev.TaskFailed)
    assert failed.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert failed.reason.startswith("HTTP task refused: 169.254.169.254 is a link-local address")
    assert "ORCHESTRATOR_HTTP_ALLOW_NETWORKS" in failed.reason
    assert isinstance(h[-1], ev.WorkflowFailed)


def test_inline_runs_javascript_in_v8_and_value_param(stack: Stack) -> None:
    h = stack.finished("inline")
    assert output_of(h, "js") == {"result": [3, 6, 9]}
    assert output_of(h, "vp") == {"result": [3, 6, 9]}


def test_json_jq_transform_gives_result_and_result_list(stack: Stack) -> None:
    h = stack.finished("jq")
    assert output_of(h, "jq") == {"result": ["ana"], "resultList": [["ana"]]}


def test_switch_and_decision_run_the_selected_case(stack: Stack) -> None:
    h = stack.finished("switch")
    refs = [e.ref for e in h if isinstance(e, ev.TaskScheduled)]
    assert refs == ["by_value", "case_b", "by_js", "big", "decision", "decision_default"]
    assert output_of(h, "by_value") == {"evaluationResult": ["b"], "selectedCase": "b"}
    assert output_of(h, "by_js") == {"evaluationResult": ["big"], "selectedCase": "big"}
    assert output_of(h, "decision") == {"caseOutput": ["zzz"]}
    assert isinstance(h[-1], ev.WorkflowCompleted)


def test_terminate_ends_the_workflow_with_its_status_reason_and_output(stack: Stack) -> None:
    h = stack.finished("terminate")
    assert not scheduled(h, "never")
    end = the(h, ev.WorkflowFailed)
    assert end.status is WorkflowStatus.FAILED
    assert end.reason == "stopped by e2e"
    assert end.output == {"first": "first"}


def test_set_variable_updates_workflow_variables(stack: Stack) -> None:
    h = stack.finished("set_variable")
    assert the(h, ev.VariablesUpdated).variables == {"greeting": "hi", "n": 3}
    assert output_of(h, "noop") == {}
    assert the(h, ev.WorkflowCompleted).output == {"vars": {"greeting": "hi", "n": 3}, "used": "hi"}


def test_event_task_publishes_to_a_kafka_sink(stack: Stack) -> None:
    wid = stack.ids["event"]
    h = stack.finished("event")
    sink = f"kafka:{stack.rt.prefix}.sink-event"
    assert output_of(h, "publish")["event_produced"] == sink
    records = read_topic(f"{stack.rt.prefix}.sink-event")
    payloads = [json.loads(m.value()) for m in records]
    mine = [p for p in payloads if p.get("workflowInstanceId") == wid]
    assert len(mine) == 1
    assert mine[0]["orderId"] == "o-17" and mine[0]["workflowType"] == "e2e_event"
    assert mine[0]["sink"] == sink


def test_kafka_publish_task_produces_the_record(stack: Stack) -> None:
    h = stack.finished("kafka_publish")
    assert output_of(h, "produce") == {}
    records = [m for m in read_topic(f"{stack.rt.prefix}.sink-kafka") if m.key() == b"o-18"]
    assert len(records) == 1
    assert json.loads(records[0].value()) == {"orderId": "o-18"}
    assert dict(records[0].headers() or []) == {"X-Source": b"e2e"}
