"""Issue 15 on the real stack: one workflow's size never stops the engine, and finished
executions leave the processor while every operation on them keeps working.

- A DO_WHILE that grows its state past what a Kafka record holds (40 iterations of 60 KB of
  incompressible text) completes through the state store beside 50 ordinary workflows, or, with
  a state limit set, fails with a reason naming it; the processor never exits.
- An INLINE result too large for one record is stored in the payload store (ADR 0011) and its
  workflow completes; a record too large even without its payloads (a 1.2 MB termination
  reason) fails its workflow with the reason.
- With a retention of 2 s, finished executions are archived and tombstoned; restart, retry,
  rerun, a late report and a start with a used id still meet their state; a processor killed
  and restarted recovers only what is live.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.codec import wire
from orchestrator.domain import commands as cmd
from orchestrator.domain.statuses import TaskStatus
from orchestrator.engine.changelog import read_changelog
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import authed
from tests.e2e.e2e_support import read_topic, start_worker
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, Runtime, kill9

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

# 60 KB of pseudo-random printable text (an LCG: deterministic, incompressible enough).
NOISE_JS = (
    "(function () { var s = []; var x = $.seed * 7919 + 1;"
    " for (var i = 0; i < $.size; i++) { x = (x * 1103515245 + 12345) % 2147483648;"
    " s.push(String.fromCharCode(33 + (x % 90))); } return s.join(''); })()"
)


def noise(ref: str, seed: str, size: int | str) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {
            "evaluatorType": "javascript",
            "expression": NOISE_JS,
            "seed": seed,
            "size": size,
        },
    }


# Each iteration waits for a worker (a Kafka worker process): the state grows across commands.
SLOW_BIG_LOOP = {
    "name": "endurance_slow_big_loop",
    "version": 1,
    "tasks": [
        {
            "name": "grow",
            "taskReferenceName": "grow",
            "type": "DO_WHILE",
            "loopCondition": "$.grow['iteration'] < 40",
            "loopOver": [
                noise("chunk", "${grow.output.iteration}", 61_440),
                {"name": "e2e_echo", "taskReferenceName": "echo", "type": "SIMPLE"},
            ],
        }
    ],
}
BIG_LOOP = {
    "name": "endurance_big_loop",
    "version": 1,
    "tasks": [
        {
            "name": "grow",
            "taskReferenceName": "grow",
            "type": "DO_WHILE",
            "loopCondition": "$.grow['iteration'] < 40",
            "loopOver": [noise("chunk", "${grow.output.iteration}", 61_440)],
        }
    ],
    "outputParameters": {"iterations": "${grow.output.iteration}"},
}
HUGE_RESULT = {
    "name": "endurance_huge_result",
    "version": 1,
    "tasks": [
        {"name": "go", "taskReferenceName": "go", "type": "HUMAN"},
        {
            "name": "huge",
            "taskReferenceName": "huge",
            "type": "INLINE",
            "inputParameters": {
                "evaluatorType": "javascript",
                "expression": "'x'.repeat($.size)",
                "size": "${workflow.input.size}",
            },
        },
    ],
}
HUGE_REASON = {
    "name": "endurance_huge_reason",
    "version": 1,
    "tasks": [
        {"name": "go", "taskReferenceName": "go", "type": "HUMAN"},
        {
            "name": "stop",
            "taskReferenceName": "stop",
            "type": "TERMINATE",
            "inputParameters": {
                "terminationStatus": "FAILED",
                "terminationReason": "${workflow.input.reason}",
            },
        },
    ],
}
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
ORDINARY = {"name": "endurance_ordinary", "version": 1, "tasks": [CALC]}
HUMAN = {
    "name": "endurance_human",
    "version": 1,
    "tasks": [{"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"}, CALC],
}


class Deployment:
    """Topics, a read-model schema with its projector, processors with `env`, an API client."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.base = support.database_url()
        self.schema = support.create_schema(self.base)
        self.rt = Runtime(prefix=f"e2e-end-{os.urandom(4).hex()}", log_dir=tmp)
        self.rt.create_topics()
        self.settings: Settings = support.settings_for(
            support.schema_url(self.base, self.schema), self.rt.prefix, partitions="4"
        )
        self.env = env
        self.projector = Projector(self.settings)
        self.thread = threading.Thread(target=self.projector.run, daemon=True)
        self.thread.start()

    def start_processor(self) -> Any:
        return self.rt.start_processor(env=self.env)

    def close(self) -> None:
        self.projector.stop()
        self.thread.join(30)
        self.rt.stop_all()
        self.rt.delete_topics()
        support.drop_schema(self.base, self.schema)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    env = getattr(request, "param", {})
    d = Deployment(tmp_path, env)
    try:
        yield d
    finally:
        d.close()


def api(d: Deployment, *definitions: dict[str, Any]) -> TestClient:
    client = authed(TestClient(create_app(d.settings)), d.settings)
    client.__enter__()
    echo = {"name": "e2e_echo", "retryCount": 0, "timeoutSeconds": 0, "responseTimeoutSeconds": 60}
    assert client.post("/api/metadata/taskdefs", json=[echo]).status_code == 200
    for definition in definitions:
        assert client.post("/api/metadata/workflow", json=definition).status_code == 200
    return client


def start(client: TestClient, name: str, workflow_input: dict[str, Any] | None = None) -> str:
    response = client.post("/api/workflow", json={"name": name, "input": workflow_input or {}})
    assert response.status_code == 200, response.text
    return response.text


def until(client: TestClient, wid: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = client.get(f"/api/workflow/{wid}").json()
        if got.get("status") == status or time.monotonic() > deadline:
            assert got.get("status") == status, {
                k: got.get(k) for k in ("status", "reasonForIncompletion")
            }
            return got
        time.sleep(0.2)


def assert_alive(d: Deployment, proc: Any) -> None:
    assert proc.poll() is None, f"the processor exited ({proc.returncode}); logs in {d.rt.log_dir}"
    logs = b"".join(p.read_bytes() for p in d.rt.log_dir.glob("processor*.log"))
    assert b"CRITICAL" not in logs, f"a processor logged CRITICAL; logs in {d.rt.log_dir}"


# -- containment -----------------------------------------------------------------------------


def test_a_state_past_a_record_completes_through_the_store_beside_50_others(
    deployment: Deployment,
) -> None:
    d = deployment
    proc = d.start_processor()
    wait_until_ready(d.rt, "processor", 1, 90)
    client = api(d, BIG_LOOP, ORDINARY)
    big = start(client, "endurance_big_loop")
    ordinary = [start(client, "endurance_ordinary", {"n": i}) for i in range(50)]

    for wid in ordinary:
        until(client, wid, "COMPLETED", timeout=120)
    done = until(client, big, "COMPLETED", timeout=180)

    assert done["output"] == {"iterations": 40}
    chunks = [t for t in done["tasks"] if t["referenceTaskName"].startswith("chunk")]
    assert len(chunks) == 40 and all(len(t["outputData"]["result"]) == 61_440 for t in chunks)
    # its state outgrew a Kafka record: the changelog carries a marker, the store the state
    found = read_changelog(d.settings, d.rt.topics.state_changelog, range(4))
    head = found.executions[big].head
    assert head is not None and head.stored and head.terminal
    assert_alive(d, proc)


@pytest.mark.parametrize("deployment", [{"ORCHESTRATOR_MAX_STATE_BYTES": "1000000"}], indirect=True)
def test_a_state_over_the_limit_fails_its_workflow_with_the_reason(
    deployment: Deployment,
) -> None:
    d = deployment
    proc = d.start_processor()
    start_worker(d.rt, ["tests.e2e.e2e_workers"], "worker")
    wait_until_ready(d.rt, "processor", 1, 90)
    client = api(d, SLOW_BIG_LOOP, ORDINARY)
    big = start(client, "endurance_slow_big_loop")
    ordinary = [start(client, "endurance_ordinary", {"n": i}) for i in range(50)]

    failed = until(client, big, "FAILED", timeout=180)
    for wid in ordinary:
        until(client, wid, "COMPLETED", timeout=60)

    reason = failed["reasonForIncompletion"]
    assert "ORCHESTRATOR_MAX_STATE_BYTES" in reason and "over the 1.0 MB limit" in reason, reason
    assert_alive(d, proc)


def test_a_result_too_large_for_a_record_is_stored_and_its_workflow_completes(
    deployment: Deployment,
) -> None:
    """Since ADR 0011 a payload never makes a record too large: it goes to the payload store."""
    d = deployment
    proc = d.start_processor()
    wait_until_ready(d.rt, "processor", 1, 90)
    client = api(d, HUGE_RESULT, ORDINARY)
    huge = start(client, "endurance_huge_result", {"size": 1_200_000})
    after = start(client, "endurance_ordinary", {"n": 4})
    until(client, huge, "RUNNING")
    assert client.post(f"/api/tasks/{huge}/go/COMPLETED", json={}).status_code == 200

    done = until(client, huge, "COMPLETED", timeout=60)
    assert until(client, after, "COMPLETED")["output"] == {"result": 8}
    result = next(t for t in done["tasks"] if t["referenceTaskName"] == "huge")["outputData"]
    assert result == {"result": "x" * 1_200_000}
    assert_alive(d, proc)


def test_a_record_too_large_even_without_its_payloads_fails_its_workflow_not_the_processor(
    deployment: Deployment,
) -> None:
    """A 1.2 MB termination reason is no payload (a plain string field of the event)."""
    d = deployment
    proc = d.start_processor()
    wait_until_ready(d.rt, "processor", 1, 90)
    client = api(d, HUGE_REASON, ORDINARY)
    huge = start(client, "endurance_huge_reason", {"reason": "r" * 1_200_000})
    after = start(client, "endurance_ordinary", {"n": 4})
    until(client, huge, "RUNNING")
    assert client.post(f"/api/tasks/{huge}/go/COMPLETED", json={}).status_code == 200

    failed = until(client, huge, "FAILED", timeout=60)
    assert until(client, after, "COMPLETED")["output"] == {"result": 8}

    reason = failed["reasonForIncompletion"]
    assert "limit of a Kafka record" in reason and "ORCHESTRATOR_MAX_RECORD_BYTES" in reason
    assert len(reason) < 2000
    assert_alive(d, proc)


# -- retention --------------------------------------------------------------------------------


def stored_ids(d: Deployment, schema: str) -> set[str]:
    with psycopg.connect(d.base) as conn:
        rows = conn.execute(f'SELECT workflow_id FROM "{schema}".execution_states').fetchall()
    return {r[0] for r in rows}


def wait_evicted(d: Deployment, schema: str, wids: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = read_changelog(d.settings, d.rt.topics.state_changelog, range(4))
        gone = {w for w in wids if found.executions.get(w) and found.executions[w].head is None}
        if gone == wids and wids <= stored_ids(d, schema):
            return
        assert time.monotonic() < deadline, f"not evicted: {sorted(wids - gone)[:5]}"
        time.sleep(0.5)


@pytest.mark.parametrize("deployment", [{"ORCHESTRATOR_FINISHED_RETENTION_S": "2"}], indirect=True)
def test_finished_executions_leave_the_processor_and_every_operation_still_works(
    deployment: Deployment,
) -> None:
    d = deployment
    proc = d.start_processor()
    wait_until_ready(d.rt, "processor", 1, 90)
    client = api(d, ORDINARY, HUMAN)
    completed = [start(client, "endurance_ordinary", {"n": i}) for i in range(20)]
    failed = start(client, "endurance_ordinary", {"fail": True, "n": 1})
    human = start(client, "endurance_human", {"n": 7})
    for wid in completed:
        until(client, wid, "COMPLETED")
    failed_run = until(client, failed, "FAILED")
    until(client, human, "RUNNING")
    finished = {*completed, failed}

    wait_evicted(d, d.rt.state_store_schema, finished)
    found = read_changelog(d.settings, d.rt.topics.state_changelog, range(4))
    assert found.executions[human].head is not None  # the running one stays
    # /metrics says so too (from the processor's heartbeats)
    held = wait_metric(client, lambda m: m.get("finished") == 0 and m.get("active") == 1)
    assert held == {"active": 1, "finished": 0}

    # A late report of an evicted workflow's task meets its state: rejected, nothing changes.
    sender = CommandSender(d.rt)
    task_id = failed_run["tasks"][0]["taskId"]
    late = cmd.ReportTaskResult(
        workflow_id=failed, at=int(time.time() * 1000), actor="worker:late", task_id=task_id,
        status=TaskStatus.COMPLETED, output={"late": True},
    )  # fmt: skip
    sender.send(late)
    # So does a start that reuses an evicted workflow's id.
    sender.send(
        cmd.StartWorkflow(
            workflow_id=completed[1],
            at=int(time.time() * 1000),
            actor="api:t",
            name="endurance_ordinary",
            version=1,
            input={"n": 100},
        )
    )
    sender.flush()
    codes = wait_rejections(d, {failed, completed[1]}, 2)
    assert codes == {(failed, "WORKFLOW_TERMINAL"), (completed[1], "ALREADY_EXISTS")}

    # Restart, retry and rerun of evicted workflows work as before.
    assert client.post(f"/api/workflow/{completed[0]}/restart").status_code == 204
    assert until(client, completed[0], "COMPLETED")["output"] == {"result": 0}
    assert client.post(f"/api/workflow/{failed}/retry").status_code == 204
    retried = until(client, failed, "FAILED")
    assert [t["retryCount"] for t in retried["tasks"]] == [0, 1]
    rerun = {"reRunFromTaskId": retried["tasks"][1]["taskId"], "workflowInput": {"n": 21}}
    assert client.post(f"/api/workflow/{failed}/rerun", json=rerun).status_code == 200
    assert until(client, failed, "COMPLETED")["output"] == {"result": 42}
    history = client.get(f"/api/workflow/{completed[2]}/history").json()
    assert history and history[-1]["type"] == "WorkflowCompleted"

    # A fresh processor recovers only what is live (and recently finished).
    wait_evicted(d, d.rt.state_store_schema, {completed[0], failed})
    kill9(proc)
    proc = d.start_processor()
    wait_until_ready(d.rt, "processor", 2, 90)
    log_text = (d.rt.log_dir / "processor-1.log").read_text()
    assert " 1 running and 0 finished executions" in log_text, log_text[-2000:]
    assert client.post(f"/api/workflow/{completed[3]}/restart").status_code == 204
    assert until(client, completed[3], "COMPLETED")["output"] == {"result": 6}
    assert_alive(d, proc)


def wait_rejections(d: Deployment, wids: set[str], count: int, timeout: float = 30) -> set[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = set()
        for msg in read_topic(d.rt.topics.rejections):
            r = wire.decode_rejection(msg.value())
            if r.workflow_id in wids:
                found.add((r.workflow_id, str(r.code)))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_processor_started_before_its_broker_waits_for_it(tmp_path: Path) -> None:
    """Kafka not there yet (a restart, a slow start): the processor waits and says so, it does
    not exit into a restart loop."""
    rt = Runtime(prefix=f"e2e-wait-{os.urandom(4).hex()}", log_dir=tmp_path)
    proc = rt.start_processor(env={"ORCHESTRATOR_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    try:
        deadline = time.monotonic() + 30
        log_file = tmp_path / "processor-0.log"
        while b"waiting for Kafka" not in log_file.read_bytes():
            assert proc.poll() is None, log_file.read_text()[-2000:]
            assert time.monotonic() < deadline, log_file.read_text()[-2000:]
            time.sleep(0.2)
        time.sleep(3)
        assert proc.poll() is None, log_file.read_text()[-2000:]
        assert b"Traceback" not in log_file.read_bytes()
    finally:
        kill9(proc)


def wait_metric(client: TestClient, ok: Any, timeout: float = 30) -> dict[str, float]:
    """orchestrator_processor_executions by state, once `ok` holds (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        text = client.get("/metrics").text
        found = {
            m.group(1): float(m.group(2))
            for m in re.finditer(r'^orchestrator_processor_executions\{state="(\w+)"\} (\S+)$',
                                 text, re.M)
        }  # fmt: skip
        if ok(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
