"""JsonJQTransformSpec: JSON_JQ_TRANSFORM succeeding, failing, rerun with new input, chained."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, Workflow, ended

SPEC = "JsonJQTransformSpec"
SIMPLE = "simple_json_jq_transform_integration_test.json"
VALID = {"in1": {"array": ["a", "b"]}, "in2": {"array": ["c", "d"]}}
INVALID = {"in1": "a", "in2": "b"}
REASON = ("reasonForIncompletion",)


def _has_results(wf: Workflow) -> list[bool]:
    return [
        "result" in (t.get("outputData") or {}) and "resultList" in (t.get("outputData") or {})
        for t in wf["tasks"]
        if t["taskType"] == "JSON_JQ_TRANSFORM"
    ]


@case(SPEC, "Test workflow with json jq transform task succeeds")
def jq_succeeds(s: Session) -> None:
    s.workflows(SIMPLE)
    wid = s.start("test_json_jq_transform_wf", VALID)
    s.check("completed", wid, ended, extract=_has_results)


@case(SPEC, "Test workflow with json jq transform task fails")
def jq_fails(s: Session) -> None:
    s.workflows(SIMPLE)
    wid = s.start("test_json_jq_transform_wf", INVALID)
    s.check("failed", wid, ended, task_fields=REASON)


@case(SPEC, "Test rerun workflow with failed json jq transform task")
def jq_rerun_with_task_input(s: Session) -> None:
    s.workflows(SIMPLE)
    wid = s.start("test_json_jq_transform_wf", INVALID)
    wf = s.check("failed", wid, ended, task_fields=REASON)
    task_input = {
        "input": VALID,
        "queryExpression": ".input as $_ | { out: ($_.in1.array + $_.in2.array) }",
    }
    request: dict[str, Any] = {"reRunFromWorkflowId": wid, "taskInput": task_input}
    request["reRunFromTaskId"] = wf["tasks"][0]["taskId"] if wf["tasks"] else "none"
    s.operate("rerun with a valid task input", s.client.rerun(wid, request))
    s.check(
        "completed",
        wid,
        lambda wf: wf["status"] == "COMPLETED",
        extract=_has_results,
        wait_s=6,
    )


@case(SPEC, "Test json jq transform task with nested json object succeeds")
def jq_nested_objects(s: Session) -> None:
    s.workflows("sequential_json_jq_transform_integration_test.json")
    workflow_input = {
        "method": "POST",
        "body": {"name": "Beary Beariston", "title": "the Brown Bear"},
        "requestTransform": '{name: (.body.name + " you are " + .body.title) }',
        "responseTransform": '{result: "reply: " + .response.body.message}',
    }
    wid = s.start("sequential_json_jq_transform_wf", workflow_input)
    s.check(
        "completed",
        wid,
        ended,
        extract=lambda wf: {
            "results": _has_results(wf),
            "first": {
                k: wf["tasks"][0]["outputData"]["result"].get(k)
                for k in ("method", "requestTransform", "responseTransform")
            },
            "second name": wf["tasks"][1]["outputData"]["result"].get("name"),
        },
    )


@case(SPEC, "Test json jq transform task with different json object results succeeds")
def jq_results_feed_decisions(s: Session) -> None:
    s.workflows("json_jq_transform_result_integration_test.json")
    wid = s.start("json_jq_transform_result_wf", {"requestedAction": "redeliver"})
    s.check(
        "completed",
        wid,
        ended,
        extract=lambda wf: {
            "results": _has_results(wf),
            "t0 result": wf["tasks"][0]["outputData"].get("result"),
            "t1 case": wf["tasks"][1]["inputData"].get("case"),
            "t2 result has redeliver": "redeliver"
            in (wf["tasks"][2]["outputData"].get("result") or []),
            "t2 result size": len(wf["tasks"][2]["outputData"].get("result") or []),
            "t3 case": wf["tasks"][3]["inputData"].get("case"),
        },
    )
