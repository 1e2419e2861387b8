"""Large payloads end to end (ADR 0011), real Kafka and Postgres, real processes: a 1.5 MB start
over REST completes, 2 MB worker results (SDK and HTTP) are stored by reference and feed
expressions, each soft threshold is exact on the wire, each hard maximum refuses with the
field, the size and the limit, and nothing is ever a 500 or a dead process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.large_payload_stack import Stack, large_payload_stack
from tests.e2e.payload_workers import sha, text_of, words_of

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

KIB = 1024
THRESHOLD = 64 * KIB  # the default soft thresholds
MAXIMUM = 4096 * KIB  # the default hard maximums
WRAP = len('{"blob":""}')  # JSON bytes around a blob of text


def _inline_length(ref: str, source: str) -> dict[str, Any]:
    return {
        "name": "length",
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {
            "evaluatorType": "javascript",
            "expression": "$.blob.length",
            "blob": source,
        },
    }


def _task(name: str, ref: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


TASK_DEFS = [
    {"name": n, "retryCount": 0, "timeoutSeconds": 300, "responseTimeoutSeconds": 120}
    for n in ("pl_big_result", "pl_measure", "pl_http_task")
] + [
    {
        "name": "pl_gated",
        "timeoutSeconds": 300,
        "responseTimeoutSeconds": 120,
        "concurrentExecLimit": 2,
    }
]

BIG = {"bytes": "${workflow.input.bytes}", "seed": "${workflow.input.seed}"}
# 60,000 pseudo-random hex characters (a linear congruential generator seeded per iteration)
RANDOM_TEXT_JS = (
    "(function () { var s = $.seed * 7919 + 1, out = []; "
    "for (var i = 0; i < 60000; i++) { s = (s * 1103515245 + 12345) % 2147483648; "
    "out.push(((s >> 16) & 15).toString(16)); } return out.join(''); })()"
)
WORKFLOWS = [
    {
        "name": "pl_measure_flow",
        "tasks": [_task("pl_measure", "measure", {"blob": "${workflow.input.blob}"})],
        "outputParameters": {"length": "${measure.output.length}", "sha": "${measure.output.sha}"},
    },
    {
        "name": "pl_echo_flow",
        "tasks": [_task("pl_big_result", "big", BIG)],
        "outputParameters": {"blob": "${big.output.blob}"},
    },
    {
        "name": "pl_sdk_flow",
        "tasks": [_task("pl_big_result", "big", BIG), _inline_length("len", "${big.output.blob}")],
        "outputParameters": {"length": "${len.output.result}"},
    },
    {
        "name": "pl_http_flow",
        "tasks": [_task("pl_http_task", "http", {}), _inline_length("len", "${http.output.blob}")],
        "outputParameters": {"length": "${len.output.result}"},
    },
    {
        "name": "pl_inline_big_flow",
        "tasks": [
            {
                "name": "gen",
                "taskReferenceName": "gen",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "'x'.repeat($.n)",
                    "n": "${workflow.input.n}",
                },
            }
        ],
    },
    {"name": "pl_gated_flow", "tasks": [_task("pl_gated", "g", {})]},
    {
        # issue #15: 40 iterations, each INLINE result 60 KB of incompressible text
        "name": "pl_loop_flow",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 40",
                "inputParameters": {},
                "loopOver": [
                    {
                        "name": "gen",
                        "taskReferenceName": "gen",
                        "type": "INLINE",
                        "inputParameters": {
                            "evaluatorType": "javascript",
                            "expression": RANDOM_TEXT_JS,
                            "seed": "${loop.output.iteration}",
                        },
                    }
                ],
            }
        ],
    },
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with large_payload_stack(Path(tmp_path_factory.mktemp("large-payloads"))) as stack:
        with stack.http as http:
            assert http.post("/metadata/taskdefs", json=TASK_DEFS).status_code == 200
            for wf in WORKFLOWS:
                body = {**wf, "version": 1, "schemaVersion": 2}
                assert http.post("/metadata/workflow", json=body).status_code == 200, wf
        time.sleep(2)  # the processor's registry follows the definitions topic
        yield stack


def _task_of(workflow: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(t for t in workflow["tasks"] if t["referenceTaskName"] == ref)


# -- starts over REST --------------------------------------------------------------------------


def test_a_1_5_mb_start_over_rest_completes_with_the_full_input_everywhere(stack: Stack):
    blob = words_of(1_500_000, "start")
    workflow_id = stack.start("pl_measure_flow", {"blob": blob})
    done = stack.workflow(workflow_id)
    assert done["status"] == "COMPLETED", done.get("reasonForIncompletion")
    assert len(blob) > 1_490_000
    assert done["output"] == {"length": len(blob), "sha": sha(blob)}  # the worker got it all
    assert done["input"] == {"blob": blob}  # the read model holds the full value
    assert _task_of(done, "measure")["inputData"] == {"blob": blob}
    records = dict(stack.raw_events(workflow_id))
    assert isinstance(records["WorkflowStarted"]["input"], dict)  # a reference on the wire
    with stack.http as http:
        found = http.get("/workflow/search", params={"freeText": blob[:64], "size": 5}).json()
    assert workflow_id in [r["workflowId"] for r in found["results"]]


def test_a_start_over_the_input_maximum_is_413_naming_field_size_and_limit(stack: Stack):
    blob = "y" * (MAXIMUM - WRAP + 1)
    with stack.http as http:
        response = http.post("/workflow", json={"name": "pl_measure_flow", "input": {"blob": blob}})
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["status"] == 413 and body["code"] == "PAYLOAD_TOO_LARGE"
    assert body["message"] == (
        f"Payload too large: The request field input is {MAXIMUM + 1} bytes of JSON, greater "
        f"than the permissible limit of {MAXIMUM} bytes for a workflow input "
        "(ORCHESTRATOR_MAX_WORKFLOW_INPUT_PAYLOAD_KB)"
    )


# -- the soft thresholds, exactly -------------------------------------------------------------


def _kind(record: dict[str, Any], field: str) -> str:
    return "inline" if isinstance(record[field], str) else "stored"


@pytest.mark.parametrize("size", [THRESHOLD, THRESHOLD + 1], ids=["at", "above"])
def test_workflow_and_task_input_at_and_above_the_threshold(stack: Stack, size: int):
    blob = text_of(size - WRAP, f"in-{size}")
    workflow_id = stack.start("pl_measure_flow", {"blob": blob})
    done = stack.workflow(workflow_id)
    assert done["output"] == {"length": size - WRAP, "sha": sha(blob)}
    records = dict(stack.raw_events(workflow_id))
    expected = "inline" if size == THRESHOLD else "stored"
    assert _kind(records["WorkflowStarted"], "input") == expected
    assert _kind(records["TaskScheduled"], "input") == expected


@pytest.mark.parametrize("size", [THRESHOLD, THRESHOLD + 1], ids=["at", "above"])
def test_task_and_workflow_output_at_and_above_the_threshold(stack: Stack, size: int):
    workflow_id = stack.start("pl_echo_flow", {"bytes": size - WRAP, "seed": f"out-{size}"})
    done = stack.workflow(workflow_id)
    assert done["output"] == {"blob": text_of(size - WRAP, f"out-{size}")}
    records = dict(stack.raw_events(workflow_id))
    expected = "inline" if size == THRESHOLD else "stored"
    assert _kind(records["TaskCompleted"], "output") == expected
    assert _kind(records["WorkflowCompleted"], "output") == expected


# -- worker results ----------------------------------------------------------------------------


def test_a_2_mb_result_from_the_sdk_worker_feeds_an_expression(stack: Stack):
    workflow_id = stack.start("pl_sdk_flow", {"bytes": 2_000_000, "seed": "sdk"})
    done = stack.workflow(workflow_id)
    assert done["status"] == "COMPLETED", done.get("reasonForIncompletion")
    assert done["output"] == {"length": 2_000_000}  # INLINE saw the full output
    assert _task_of(done, "big")["outputData"] == {"blob": text_of(2_000_000, "sdk")}


def test_an_sdk_result_over_the_maximum_fails_the_task_with_the_reason(stack: Stack):
    workflow_id = stack.start("pl_sdk_flow", {"bytes": MAXIMUM, "seed": "sdk-max"})
    done = stack.workflow(workflow_id)
    big = _task_of(done, "big")
    assert big["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert big["reasonForIncompletion"] == (
        f"The output of task {big['taskId']} is {MAXIMUM + WRAP} bytes of JSON, greater than "
        f"the permissible limit of {MAXIMUM} bytes for a task output "
        "(ORCHESTRATOR_MAX_TASK_OUTPUT_PAYLOAD_KB)"
    )
    assert done["status"] == "FAILED"


def _poll(stack: Stack) -> dict[str, Any]:
    with stack.http as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            polled = http.get("/tasks/poll/pl_http_task", params={"workerid": "http-w"})
            if polled.status_code == 200:
                return dict(polled.json())
            assert polled.status_code == 204, polled.text
    raise AssertionError("no pl_http_task to poll")


def _result(task: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflowInstanceId": task["workflowInstanceId"],
        "taskId": task["taskId"],
        "status": "COMPLETED",
        "outputData": output,
        "workerId": "http-w",
    }


def test_a_2_mb_result_over_http_completes_and_the_api_shows_it(stack: Stack):
    workflow_id = stack.start("pl_http_flow", {})
    task = _poll(stack)
    blob = text_of(2_000_000, "http")
    with stack.http as http:
        response = http.post("/tasks", json=_result(task, {"blob": blob}))
        assert response.status_code == 200, response.text
        done = stack.workflow(workflow_id)
        assert done["status"] == "COMPLETED", done.get("reasonForIncompletion")
        assert done["output"] == {"length": 2_000_000}
        shown = http.get(f"/tasks/{task['taskId']}").json()
    assert shown["outputData"] == {"blob": blob}


@pytest.mark.parametrize("size", [MAXIMUM, MAXIMUM + 1], ids=["at", "above"])
def test_a_result_at_and_over_the_maximum_over_http(stack: Stack, size: int):
    workflow_id = stack.start("pl_http_flow", {})
    task = _poll(stack)
    with stack.http as http:
        response = http.post("/tasks", json=_result(task, {"blob": "z" * (size - WRAP)}))
    done = stack.workflow(workflow_id)
    http_task = _task_of(done, "http")
    if size == MAXIMUM:
        assert response.status_code == 200, response.text
        assert done["status"] == "COMPLETED" and done["output"] == {"length": size - WRAP}
        return
    assert response.status_code == 413, response.text
    reason = (
        f"The output of task {task['taskId']} is {size} bytes of JSON, greater than the "
        f"permissible limit of {MAXIMUM} bytes for a task output "
        "(ORCHESTRATOR_MAX_TASK_OUTPUT_PAYLOAD_KB)"
    )
    assert response.json()["message"] == (
        f"Payload too large: {reason}; task {task['taskId']} was failed "
        "(FAILED_WITH_TERMINAL_ERROR)"
    )
    assert http_task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert http_task["reasonForIncompletion"] == reason
    assert http_task["outputData"] == {}


def test_an_inline_result_over_the_maximum_fails_its_task_for_good(stack: Stack):
    workflow_id = stack.start("pl_inline_big_flow", {"n": MAXIMUM})
    done = stack.workflow(workflow_id)
    gen = _task_of(done, "gen")
    assert gen["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert gen["reasonForIncompletion"] == (
        f"The output of task gen is {MAXIMUM + 13} bytes of JSON, greater than the permissible "
        f"limit of {MAXIMUM} bytes for a task output"
    )
    assert done["status"] == "FAILED"


def test_the_issue_15_loop_of_40_large_inline_results_completes(stack: Stack):
    workflow_id = stack.start("pl_loop_flow", {})
    done = stack.workflow(workflow_id, timeout_s=300)
    assert done["status"] == "COMPLETED", done.get("reasonForIncompletion")
    results = [t for t in done["tasks"] if t["referenceTaskName"].startswith("gen__")]
    assert len(results) == 40
    texts = {t["outputData"]["result"] for t in results}
    assert len(texts) == 40 and {len(t) for t in texts} == {60_000}
    assert _task_of(done, "loop")["outputData"]["iteration"] == 40
    records = dict(stack.raw_events(workflow_id))
    assert len(stack.raw_events(workflow_id)) > 120  # every event of it made it to the log
    assert records["WorkflowCompleted"]


def test_no_service_logged_a_traceback(stack: Stack):
    assert not stack.alive()
    for name in ("gate", "projector", "api", "worker", "processor"):
        assert "Traceback" not in stack.log(name), f"{name}:\n{stack.log(name)[-5000:]}"
