"""Workflow operations through the REST API on the real stack: a processor subprocess (the real
engine), the projector and the API, on their own topic prefix and Postgres schema.

restart / retry / rerun / skiptask / execute / bulk / remove: each answer is checked against
what GET shows right after it (read-your-writes), and the rejections against Conductor's codes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import authed
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

CALC = {
    "name": "calc",
    "taskReferenceName": "calc",
    "type": "INLINE",
    "inputParameters": {
        "evaluatorType": "javascript",
        "expression": "(function () { if ($.fail) throw new Error('boom'); return $.n * 2; })()",
        "fail": "${workflow.input.fail}",
        "n": "${workflow.input.n}",
    },
}
INLINE_FLOW = {"name": "ops_inline", "version": 1, "tasks": [CALC]}
HUMAN_FLOW = {
    "name": "ops_human",
    "version": 1,
    "tasks": [
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {**CALC, "taskReferenceName": "after"},
    ],
}


PARENT_FLOW = {
    "name": "ops_parent",
    "version": 1,
    "tasks": [
        {
            "name": "child",
            "taskReferenceName": "child",
            "type": "SUB_WORKFLOW",
            "retryCount": 0,
            "inputParameters": {"fail": "${workflow.input.fail}", "n": "${workflow.input.n}"},
            "subWorkflowParam": {
                "name": "ops_child",
                "workflowDefinition": {"name": "ops_child", "version": 1, "tasks": [CALC]},
            },
        }
    ],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Settings]]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(
        prefix=f"e2e-ops-{os.urandom(4).hex()}", log_dir=Path(tmp_path_factory.mktemp("ops"))
    )
    rt.create_topics()
    settings = support.settings_for(support.schema_url(base, schema), rt.prefix, partitions="4")
    projector = Projector(settings)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        rt.start_processor()
        wait_until_ready(rt, "processor", 1, 90)
        yield rt, settings
        # After every operation of this module (restart, retry, rerun, skip, bulk, remove...):
        # the log folded by the engine's own code equals the read model.
        verify = subprocess.run(
            [sys.executable, "-m", "orchestrator", "replay", "--verify"],
            env={**rt.env(), "ORCHESTRATOR_DATABASE_URL": settings.database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
        summary = verify.stdout.strip().splitlines()[-1]
        compared = int(re.search(r"(\d[\d,]*) compared", summary).group(1).replace(",", ""))
        assert summary.endswith("OK") and compared >= 10, summary
    finally:
        projector.stop()
        thread.join(30)
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


@pytest.fixture(scope="module")
def client(stack: tuple[Runtime, Settings]) -> Iterator[TestClient]:
    with authed(TestClient(create_app(stack[1])), stack[1]) as client:
        for definition in (INLINE_FLOW, HUMAN_FLOW, PARENT_FLOW):
            assert client.post("/api/metadata/workflow", json=definition).status_code == 200
        yield client


def start(client: TestClient, name: str, workflow_input: dict[str, Any]) -> str:
    response = client.post("/api/workflow", json={"name": name, "input": workflow_input})
    assert response.status_code == 200, response.text
    return response.text


def until(client: TestClient, workflow_id: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = client.get(f"/api/workflow/{workflow_id}").json()
        if got.get("status") == status or time.monotonic() > deadline:
            assert got.get("status") == status, got
            return got
        time.sleep(0.1)


def test_execute_answers_with_the_finished_run(client: TestClient) -> None:
    response = client.post("/api/workflow/execute/ops_inline/1", json={"input": {"n": 21}})
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["status"], run["output"]) == ("COMPLETED", {"result": 42})
    assert [t["referenceTaskName"] for t in run["tasks"]] == ["calc"]


def test_execute_returns_at_the_awaited_task_or_the_deadline(client: TestClient) -> None:
    began = time.monotonic()
    run = client.post(
        "/api/workflow/execute/ops_human/1",
        params={"waitUntilTaskRef": "approve", "waitForSeconds": 20, "requestId": "r-1"},
        json={"input": {"n": 1}},
    ).json()
    assert (run["status"], run["requestId"]) == ("RUNNING", "r-1")
    assert time.monotonic() - began < 15  # did not wait for the deadline
    began = time.monotonic()
    waited = client.post("/api/workflow/execute/ops_human/1", params={"waitForSeconds": 1}, json={})
    assert waited.json()["status"] == "RUNNING"
    assert time.monotonic() - began >= 1


def test_retry_makes_a_new_attempt_and_rerun_with_new_input_completes(client: TestClient) -> None:
    workflow_id = start(client, "ops_inline", {"fail": True, "n": 1})
    failed = until(client, workflow_id, "FAILED")
    assert client.post(f"/api/workflow/{workflow_id}/restart").status_code == 204
    restarted = until(client, workflow_id, "FAILED")  # same input: fails again
    assert restarted["tasks"][0]["taskId"] != failed["tasks"][0]["taskId"]  # a new generation
    assert client.post(f"/api/workflow/{workflow_id}/retry").status_code == 204
    again = until(client, workflow_id, "FAILED")
    attempts = [t for t in again["tasks"] if t["referenceTaskName"] == "calc"]
    assert [t["retryCount"] for t in attempts] == [0, 1]  # history kept, a new attempt
    assert restarted["tasks"][0]["taskId"] == attempts[0]["taskId"]
    new_input = {"fail": False, "n": 5}
    older = {"reRunFromTaskId": attempts[0]["taskId"], "workflowInput": new_input}
    assert client.post(f"/api/workflow/{workflow_id}/rerun", json=older).status_code == 404
    latest = {"reRunFromTaskId": attempts[1]["taskId"], "workflowInput": new_input}
    rerun = client.post(f"/api/workflow/{workflow_id}/rerun", json=latest)
    assert (rerun.status_code, rerun.text) == (200, workflow_id)
    done = until(client, workflow_id, "COMPLETED")
    assert done["output"] == {"result": 10}


def test_operations_refuse_the_wrong_state_and_unknown_ids(client: TestClient) -> None:
    running = start(client, "ops_human", {"n": 1})
    assert client.post(f"/api/workflow/{running}/restart").status_code == 409
    assert client.post(f"/api/workflow/{running}/retry").status_code == 409
    rerun = client.post(f"/api/workflow/{running}/rerun", json={})
    assert rerun.status_code == 409 and "RUNNING" in rerun.json()["message"]
    assert client.post("/api/workflow/nope/retry").status_code == 404
    completed = start(client, "ops_inline", {"n": 2})
    until(client, completed, "COMPLETED")
    nothing = client.post(f"/api/workflow/{completed}/retry")
    assert nothing.status_code == 409 and "no failed tasks" in nothing.json()["message"]
    assert client.put(f"/api/workflow/{completed}/skiptask/calc").status_code == 409


def test_restart_of_a_completed_workflow_runs_it_again(client: TestClient) -> None:
    workflow_id = start(client, "ops_inline", {"n": 3})
    first = until(client, workflow_id, "COMPLETED")
    restarted = client.post(
        f"/api/workflow/{workflow_id}/restart", params={"useLatestDefinitions": True}
    )
    assert restarted.status_code == 204
    again = until(client, workflow_id, "COMPLETED")
    assert again["output"] == {"result": 6}
    assert again["tasks"][0]["taskId"] != first["tasks"][0]["taskId"]  # a new generation


def test_skiptask_marks_a_task_not_reached_yet(client: TestClient) -> None:
    workflow_id = start(client, "ops_human", {"n": 1})
    reached = client.put(f"/api/workflow/{workflow_id}/skiptask/approve")
    assert reached.status_code == 409
    skipped = client.put(
        f"/api/workflow/{workflow_id}/skiptask/after", json={"taskOutput": {"skipped": "yes"}}
    )
    assert skipped.status_code == 200, skipped.text
    tasks = {
        t["referenceTaskName"]: t
        for t in client.get(f"/api/workflow/{workflow_id}").json()["tasks"]
    }
    assert tasks["after"]["status"] == "SKIPPED"
    assert tasks["after"]["outputData"] == {"skipped": "yes"}


def test_bulk_operations_report_each_id_and_are_visible_at_once(client: TestClient) -> None:
    ids = [start(client, "ops_human", {"n": i}) for i in range(3)]
    ended = start(client, "ops_inline", {"n": 1})
    until(client, ended, "COMPLETED")
    paused = client.put("/api/workflow/bulk/pause", json=[*ids, "nope", ended]).json()
    assert paused["bulkSuccessfulResults"] == ids
    assert set(paused["bulkErrorResults"]) == {"nope", ended}
    assert "No such workflow" in paused["bulkErrorResults"]["nope"]
    assert {client.get(f"/api/workflow/{i}/status").json()["status"] for i in ids} == {"PAUSED"}
    resumed = client.post("/api/workflow/bulk/resume", json=ids).json()
    assert resumed["bulkSuccessfulResults"] == ids and resumed["bulkErrorResults"] == {}
    terminated = client.post(
        "/api/workflow/bulk/terminate", params={"reason": "cleanup"}, json=ids
    ).json()
    assert terminated["bulkSuccessfulResults"] == ids
    got = client.get(f"/api/workflow/{ids[0]}").json()
    assert (got["status"], got["reasonForIncompletion"]) == ("TERMINATED", "cleanup")
    retried = client.post("/api/workflow/bulk/retry", json=ids[:1]).json()
    assert list(retried["bulkErrorResults"]) == []  # canceled tasks can be retried
    too_many = client.post("/api/workflow/bulk/restart", json=[str(i) for i in range(1001)])
    assert too_many.status_code == 400 and "1000" in too_many.json()["message"]


def test_removed_workflow_leaves_search_but_keeps_its_history(client: TestClient) -> None:
    workflow_id = start(client, "ops_inline", {"n": 4})
    until(client, workflow_id, "COMPLETED")
    query = {"query": f"workflowId = '{workflow_id}'"}
    assert client.get("/api/workflow/search", params=query).json()["totalHits"] == 1
    assert client.delete(f"/api/workflow/{workflow_id}/remove").status_code == 200
    assert client.get("/api/workflow/search", params=query).json()["totalHits"] == 0
    assert client.get(f"/api/workflow/{workflow_id}").json()["status"] == "COMPLETED"


def test_rerun_from_a_task_of_a_sub_workflow_reruns_the_child_and_resumes_the_parent(
    client: TestClient,
) -> None:
    parent_id = start(client, "ops_parent", {"fail": True, "n": 5})
    parent = until(client, parent_id, "FAILED")
    child_id = parent["tasks"][0]["outputData"]["subWorkflowId"]
    child = until(client, child_id, "FAILED")
    calc = next(t for t in child["tasks"] if t["referenceTaskName"] == "calc")
    fixed_input = {**calc["inputData"], "fail": False}
    rerun = client.post(
        f"/api/workflow/{parent_id}/rerun",
        json={"reRunFromTaskId": calc["taskId"], "taskInput": fixed_input},
    )
    assert (rerun.status_code, rerun.text) in ((200, parent_id), (202, parent_id))
    assert until(client, child_id, "COMPLETED")["output"] == {"result": 10}
    resumed = until(client, parent_id, "COMPLETED")
    assert resumed["tasks"][-1]["outputData"]["subWorkflowId"] == child_id  # same child
    history = client.get(f"/api/workflow/{child_id}/history").json()
    assert any(e["type"] == "WorkflowRerun" for e in history)  # appended, nothing deleted
