"""Conductor's EventTaskSpec and its event handlers (EventResource, DefaultEventProcessor,
SimpleActionProcessor) on the real stack, through the REST API only.

One deployment for the module: a processor, the projector, the API, the built-in system
executors (EVENT) and the event-handler process. Every expectation below was first observed on
the reference Conductor 3.32.3 server with the same definitions (event names, the EVENT task's
output, what a complete_task action writes, the handler API's answers).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from orchestrator.codec import wire
from orchestrator.domain import ids
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.e2e.e2e_support import create_plain_topics, read_topic, start_process, start_worker
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import Runtime, bootstrap

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(240),
]


@dataclass
class Api:
    rt: Runtime
    client: httpx.Client
    tag: str  # makes names unique per module run

    def name(self, base: str) -> str:
        return f"{base}_{self.tag}"

    def register(self, *workflows: dict[str, Any]) -> None:
        simple = [t["name"] for w in workflows for t in w["tasks"] if t["type"] == "SIMPLE"]
        if simple:
            defs = [{"name": n, "retryCount": 0, "responseTimeoutSeconds": 30} for n in simple]
            assert self.client.post("/metadata/taskdefs", json=defs).status_code == 200
        answer = self.client.put("/metadata/workflow", json=list(workflows))
        assert answer.status_code == 200, answer.text

    def start(self, name: str, workflow_input: dict[str, Any] | None = None) -> str:
        answer = self.client.post(f"/workflow/{name}", json=workflow_input or {})
        assert answer.status_code == 200, answer.text
        return answer.text

    def workflow(self, wid: str) -> dict[str, Any]:
        answer = self.client.get(f"/workflow/{wid}", params={"includeTasks": "true"})
        assert answer.status_code in (200, 404), answer.text
        return answer.json() if answer.status_code == 200 else {}

    def wait(self, wid: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            seen = self.workflow(wid)
            if seen and check(seen):
                return seen
            time.sleep(0.2)
        raise AssertionError(f"{wid}: {what} not seen within 60 s; last {json.dumps(seen)[:2000]}")

    def poll_and_complete(self, task_type: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = self.client.get(f"/tasks/poll/{task_type}", params={"workerid": "e2e"})
            if answer.status_code == 200:
                task = answer.json()
                done = {
                    "workflowInstanceId": task["workflowInstanceId"],
                    "taskId": task["taskId"],
                    "status": "COMPLETED",
                }
                assert self.client.post("/tasks", json=done).status_code == 200
                return task
        raise AssertionError(f"no {task_type} task to poll")


def task(wf: dict[str, Any], ref: str) -> dict[str, Any]:
    found = [t for t in wf.get("tasks", []) if t["referenceTaskName"] == ref]
    return found[-1] if found else {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(
        prefix=f"e2e-ev-{uuid.uuid4().hex[:10]}", log_dir=tmp_path_factory.mktemp("events")
    )
    rt.create_topics()
    env = {"ORCHESTRATOR_DATABASE_URL": support.schema_url(base, schema)}
    port = _free_port()
    try:
        rt.start_processor()
        start_process(rt, ["projector"], "projector", env)
        start_process(rt, ["api", "--host", "127.0.0.1", "--port", str(port)], "api", env)
        start_process(rt, ["event-handlers"], "event-handlers", env)
        start_worker(rt, [], "system-worker", system=True, env=env)
        url = f"http://127.0.0.1:{port}"
        support.wait_until(lambda: _healthy(url), 90, "the API to answer /health")
        wait_until_ready(rt, "processor", 1, 90)
        admin = bearer(new_key(env["ORCHESTRATOR_DATABASE_URL"], "admin", "event-spec"))
        with httpx.Client(base_url=f"{url}/api", timeout=15, headers=admin) as client:
            yield Api(rt, client, uuid.uuid4().hex[:6])
    finally:
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def event_workflow(
    name: str, simple: str, *, async_complete: bool, sink: str = "conductor"
) -> dict[str, Any]:
    """Conductor's event_workflow_integration_test.json: EVENT (ref wait0) then a SIMPLE task."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "eventX",
                "taskReferenceName": "wait0",
                "type": "EVENT",
                "sink": sink,
                "asyncComplete": async_complete,
                "inputParameters": {"k": "${workflow.input.k}"},
            },
            {"name": simple, "taskReferenceName": "t1", "type": "SIMPLE"},
        ],
    }


# -- EventTaskSpec ---------------------------------------------------------------------------------


def test_event_task_spec_conductor_sink_completes_and_the_workflow_goes_on(api: Api) -> None:
    name, simple = api.name("test_event_workflow"), api.name("integration_task_1")
    api.register(event_workflow(name, simple, async_complete=False))

    wid = api.start(name, {"k": "v1"})

    wf = api.wait(wid, lambda w: task(w, "t1").get("status") == "SCHEDULED", "t1 scheduled")
    event = task(wf, "wait0")
    assert (event["taskType"], event["status"]) == ("EVENT", "COMPLETED")
    queue = f"conductor:{name}:wait0"  # Conductor: conductor:<workflow name>:<task reference>
    assert event["outputData"]["event_produced"] == queue
    assert event["inputData"] == {"k": "v1", "sink": "conductor", "asyncComplete": False}
    [record] = [m for m in read_topic(api.rt.topics.event_queues) if m.key() == queue.encode()]
    assert json.loads(record.value()) == event["outputData"]  # the message is the output
    assert dict(record.headers())["message-id"] == event["taskId"].encode()
    api.poll_and_complete(simple)
    assert api.wait(wid, lambda w: w["status"] != "RUNNING", "the end")["status"] == "COMPLETED"


def test_event_task_spec_conductor_sink_async_complete(api: Api) -> None:
    name, simple = api.name("test_event_workflow_async"), api.name("integration_task_2")
    api.register(event_workflow(name, simple, async_complete=True, sink="conductor:approvals"))

    wid = api.start(name, {"k": "v2"})

    wf = api.wait(
        wid, lambda w: "event_produced" in task(w, "wait0").get("outputData", {}), "published"
    )
    event = task(wf, "wait0")
    assert (event["status"], len(wf["tasks"])) == ("IN_PROGRESS", 1)  # waits after publishing
    assert event["outputData"]["event_produced"] == f"conductor:{name}:approvals"
    time.sleep(2)
    assert task(api.workflow(wid), "wait0")["status"] == "IN_PROGRESS"
    done = {
        "workflowInstanceId": wid,
        "taskId": event["taskId"],
        "status": "COMPLETED",
        "outputData": {"extra": 1},
    }
    assert api.client.post("/tasks", json=done).status_code == 200
    wf = api.wait(wid, lambda w: task(w, "t1").get("status") == "SCHEDULED", "t1 scheduled")
    assert task(wf, "wait0")["status"] == "COMPLETED"
    api.poll_and_complete(simple)
    assert api.wait(wid, lambda w: w["status"] != "RUNNING", "the end")["status"] == "COMPLETED"


# -- event handlers ----------------------------------------------------------------------------------


def test_event_handler_completes_the_async_event_task_that_published_the_message(api: Api) -> None:
    name = api.name("pub")
    api.register(
        {
            "name": name,
            "version": 1,
            "tasks": [
                {
                    "name": "ev",
                    "taskReferenceName": "ev_ref",
                    "type": "EVENT",
                    "sink": "conductor",
                    "asyncComplete": True,
                    "inputParameters": {"k": "${workflow.input.k}", "nested": '{"a": 1}'},
                }
            ],
        }
    )
    event = f"conductor:{name}:ev_ref"
    handler = {
        "name": api.name("h_complete"),
        "event": event,
        "active": True,
        "actions": [
            {
                "action": "complete_task",
                "expandInlineJSON": True,
                "complete_task": {
                    "workflowId": "${workflowInstanceId}",
                    "taskRefName": "ev_ref",
                    "output": {"got": "${k}", "n": "${nested.a}"},
                },
            }
        ],
    }
    assert api.client.post("/event", json=handler).status_code == 200

    wid = api.start(name, {"k": "go"})

    wf = api.wait(wid, lambda w: w["status"] != "RUNNING", "the end")
    ev_task = task(wf, "ev_ref")
    assert (wf["status"], ev_task["status"]) == ("COMPLETED", "COMPLETED")
    out = ev_task["outputData"]  # what the reference server's complete_task wrote
    assert {
        k: out[k] for k in ("got", "n", "workflowId", "taskRefName", "conductor.event.name")
    } == {
        "got": "go",
        "n": 1,
        "workflowId": wid,
        "taskRefName": "ev_ref",
        "conductor.event.name": event,
    }
    assert out["conductor.event.messageId"] == ev_task["taskId"]
    history = api.client.get(f"/workflow/{wid}/history").json()
    actors = {e["actor"] for e in history if e["type"] == "TaskCompleted"}
    assert actors == {f"event-handler:{handler['name']}"}


def test_event_handler_starts_a_workflow_for_each_kafka_record_its_condition_accepts(
    api: Api,
) -> None:
    target, topic = api.name("target"), f"{api.rt.prefix}.orders"
    create_plain_topics(api.rt, [topic])
    api.register(
        {
            "name": target,
            "version": 1,
            "tasks": [{"name": "w", "taskReferenceName": "w", "type": "WAIT"}],
        }
    )
    handler = {
        "name": api.name("h_start"),
        "event": f"kafka:{topic}",
        "active": True,
        "condition": "$.payload.amount > 10",
        "actions": [
            {
                "action": "start_workflow",
                "start_workflow": {
                    "name": target,
                    "input": {"order": "${payload.order}"},
                    "correlationId": "${key}",
                },
            }
        ],
    }
    assert api.client.post("/event", json=handler).status_code == 200
    # No wait: the handler process reads a newly followed topic from the handler's registration.

    offsets = produce(
        topic, [(b"o-1", {"order": 1, "amount": 50}), (b"o-2", {"order": 2, "amount": 5})]
    )

    started = ids.event_workflow_id(handler["name"], f"kafka:{topic}", f"0-{offsets[0]}", 0)
    wf = api.wait(started, lambda w: w.get("status") == "RUNNING", "the started workflow")
    assert (wf["workflowName"], wf["correlationId"]) == (target, "o-1")
    assert wf["input"] == {
        "order": 1,
        "conductor.event.messageId": f"0-{offsets[0]}",
        "conductor.event.name": f"kafka:{topic}",
    }
    skipped = ids.event_workflow_id(handler["name"], f"kafka:{topic}", f"0-{offsets[1]}", 0)
    assert api.workflow(skipped) == {}  # amount 5: the condition held it back


def test_event_handler_fails_a_waiting_task_and_bad_messages_are_dead_letters(api: Api) -> None:
    waiting = api.name("waiting")
    api.register(
        {
            "name": waiting,
            "version": 1,
            "tasks": [{"name": "w", "taskReferenceName": "approval", "type": "WAIT"}],
        }
    )
    event = f"conductor:{api.name('ops')}:verdicts"
    handler = {
        "name": api.name("h_fail"),
        "event": event,
        "active": True,
        "actions": [
            {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${wid}"}},
            {
                "action": "fail_task",
                "fail_task": {
                    "workflowId": "${wid}",
                    "taskRefName": "approval",
                    "reasonForIncompletion": "rejected by ${who}",
                },
            },
        ],
    }
    assert api.client.post("/event", json=handler).status_code == 200
    wid = api.start(waiting)
    api.wait(wid, lambda w: task(w, "approval").get("status") == "IN_PROGRESS", "the WAIT task")
    time.sleep(1)

    produce(
        api.rt.topics.event_queues,
        [(event.encode(), b"{not json"), (event.encode(), {"wid": wid, "who": "ops"})],
    )

    wf = api.wait(wid, lambda w: w["status"] != "RUNNING", "the end")
    approval = task(wf, "approval")
    assert (wf["status"], approval["status"]) == ("FAILED", "FAILED")
    assert approval["reasonForIncompletion"] == "rejected by ops"
    letters = [wire.decode_dead_letter(m.value()) for m in read_topic(api.rt.topics.dlq)]
    mine = [d for d in letters if d.key == event.encode()]
    reasons = sorted(d.reason for d in mine)
    assert any("is not JSON" in r for r in reasons), reasons
    assert any("Action not supported terminate_workflow" in r for r in reasons), reasons
    assert {d.component for d in mine} == {"event-handlers"}


def produce(topic: str, records: list[tuple[bytes, Any]]) -> list[int]:
    """Produce to partition 0; the offsets, in order."""
    producer = Producer({"bootstrap.servers": bootstrap()})
    offsets: list[int] = []
    for key, value in records:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(
            topic,
            key=key,
            value=raw,
            partition=0,
            on_delivery=lambda err, msg: offsets.append(msg.offset()),
        )
        producer.flush(10)
    assert len(offsets) == len(records)
    return offsets


# -- the handler API, as Conductor answers it ----------------------------------------------------------


def test_event_handler_api_answers_as_conductor(api: Api) -> None:
    name = api.name("h_crud")
    body = {
        "name": name,
        "event": "conductor:x:y",
        "actions": [{"action": "start_workflow", "start_workflow": {"name": "wf"}}],
    }

    empty = api.client.post("/event", json={})
    assert empty.status_code == 400
    assert {p["path"] for p in empty.json()["validationErrors"]} == {
        "$.name",
        "$.event",
        "$.actions",
    }
    bogus = api.client.post("/event", json={**body, "actions": [{"action": "bogus"}]})
    assert (
        bogus.status_code == 400
        and bogus.json()["validationErrors"][0]["path"] == "$.actions[0].action"
    )
    assert api.client.put("/event", json=body).status_code == 404
    assert api.client.post("/event", json=body).status_code == 200
    dup = api.client.post("/event", json=body)
    assert (dup.status_code, dup.json()["message"]) == (
        409,
        f"EventHandler with name {name} already exists!",
    )
    listed = [h for h in api.client.get("/event").json() if h["name"] == name]
    assert listed == [
        {**body, "actions": [{**body["actions"][0], "expandInlineJSON": False}], "active": False}
    ]
    assert api.client.get("/event/conductor:x:y").json() == []  # activeOnly defaults to true
    assert [
        h["name"]
        for h in api.client.get("/event/conductor:x:y", params={"activeOnly": "false"}).json()
    ] == [name]
    assert (
        api.client.put(
            "/event", json={**body, "event": "conductor:x:z", "active": True}
        ).status_code
        == 200
    )
    assert [h["name"] for h in api.client.get("/event/conductor:x:z").json()] == [name]
    assert api.client.delete(f"/event/{name}").status_code == 200
    assert api.client.delete(f"/event/{name}").status_code == 404
    assert all(h["name"] != name for h in api.client.get("/event").json())
