"""The REST API's foundation against real Postgres and Kafka: health, metadata, errors.

Each test module run gets its own Postgres schema and topic prefix.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient

from orchestrator.api import routes_workflow
from orchestrator.api.app import create_app
from orchestrator.codec.wire import decode_command_envelope, decode_definition, encode_event
from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.ids import workflow_id_for_idempotency_key
from orchestrator.health.beacon import Beacon
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import authed

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

TASK_DEF = {"name": "reserve", "retryCount": 2, "timeoutSeconds": 60, "responseTimeoutSeconds": 30}
WORKFLOW_DEF = {
    "name": "order_flow",
    "version": 1,
    "tasks": [{"name": "reserve", "taskReferenceName": "reserve_ref", "type": "SIMPLE"}],
}


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    base = support.database_url()
    schema = support.create_schema(base)
    prefix = f"test-api-{os.urandom(5).hex()}"
    settings = support.settings_for(support.schema_url(base, schema), prefix)
    yield settings
    support.remove_topics(settings)
    support.drop_schema(base, schema)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with authed(TestClient(create_app(settings)), settings) as client:
        yield client


def test_health_reports_kafka_postgres_and_the_missing_services(
    client: TestClient, settings: Settings
) -> None:
    """No processor nor projector runs beside this API: /health says so (503), naming them;
    tests/e2e/test_health.py covers a whole deployment."""

    def answered() -> bool:  # once the API has read the status topic
        body = client.get("/health").json()
        return "reason" not in body["components"]["processors"]["details"] or (
            "not read" not in body["components"]["processors"]["details"]["reason"]
        )

    support.wait_until(answered, 30, "the API to read the status topic")
    response = client.get("/health")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["healthy"] is False
    assert body["failing"] == ["processors", "projector"]
    assert body["components"]["kafka"]["healthy"] is True
    assert body["components"]["kafka"]["details"]["brokers"] >= 1
    assert body["components"]["postgres"]["healthy"] is True
    assert body["components"]["gates"]["healthy"] is True  # none ran: none required
    processors = body["components"]["processors"]["details"]
    commands = f"{settings.topic_prefix}.commands"
    assert processors["unservedPartitions"] == {commands: list(range(settings.partitions))}
    assert client.get("/health/ready").status_code == 503


def test_registered_task_def_can_be_read_back(client: TestClient) -> None:
    assert client.post("/api/metadata/taskdefs", json=[TASK_DEF]).status_code == 200
    one = client.get("/api/metadata/taskdefs/reserve")
    assert one.status_code == 200
    assert one.json()["retryCount"] == 2
    assert one.json()["retryLogic"] == "FIXED"  # Conductor's default filled in
    assert "reserve" in [d["name"] for d in client.get("/api/metadata/taskdefs").json()]


def test_invalid_task_defs_get_400_with_every_problem_and_its_path(client: TestClient) -> None:
    response = client.post(
        "/api/metadata/taskdefs",
        json=[TASK_DEF, {"name": "bad", "retryCount": -1, "timeoutSeconds": "soon"}],
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    paths = {e["path"] for e in body["validationErrors"]}
    assert {"$[1].retryCount", "$[1].timeoutSeconds"} <= paths
    assert client.get("/api/metadata/taskdefs/bad").status_code == 404


def test_registered_workflow_def_can_be_read_back_by_version_and_latest(
    client: TestClient,
) -> None:
    client.post("/api/metadata/taskdefs", json=[TASK_DEF])
    assert client.post("/api/metadata/workflow", json=WORKFLOW_DEF).status_code == 200
    v2 = {**WORKFLOW_DEF, "version": 2, "description": "second"}
    assert client.put("/api/metadata/workflow", json=[v2]).status_code == 200
    latest = client.get("/api/metadata/workflow/order_flow").json()
    first = client.get("/api/metadata/workflow/order_flow", params={"version": 1}).json()
    assert (latest["version"], latest["description"]) == (2, "second")
    assert first["version"] == 1
    assert first["tasks"][0]["taskReferenceName"] == "reserve_ref"
    versions = [d["version"] for d in client.get("/api/metadata/workflow").json()]
    assert versions.count(1) == 1 and versions.count(2) == 1


def test_reposting_a_workflow_version_is_harmless_but_changing_it_is_a_conflict(
    client: TestClient,
) -> None:
    client.post("/api/metadata/taskdefs", json=[TASK_DEF])
    definition = {**WORKFLOW_DEF, "name": "repost_flow"}
    assert client.post("/api/metadata/workflow", json=definition).status_code == 200
    assert client.post("/api/metadata/workflow", json=definition).status_code == 200
    changed = {**definition, "description": "other"}
    response = client.post("/api/metadata/workflow", json=changed)
    assert response.status_code == 409
    assert "already exists" in response.json()["message"]
    # Conductor's overwrite flag (its SDKs always send it) replaces that version
    overwritten = client.post("/api/metadata/workflow", params={"overwrite": "true"}, json=changed)
    assert overwritten.status_code == 200
    got = client.get("/api/metadata/workflow/repost_flow", params={"version": 1}).json()
    assert got["description"] == "other"


def test_invalid_workflow_def_gets_400_listing_each_problem(client: TestClient) -> None:
    response = client.post(
        "/api/metadata/workflow",
        json={
            "name": "broken",
            "tasks": [
                {"name": "reserve", "taskReferenceName": "same"},
                {"name": "reserve", "taskReferenceName": "same"},
                {"name": "no_such_task_def", "taskReferenceName": "x", "startDelay": -1},
                {"taskReferenceName": "nameless"},
            ],
        },
    )
    assert response.status_code == 400, response.text
    errors = response.json()["validationErrors"]
    assert len(errors) >= 3
    assert all(e["path"].startswith("$") and e["message"] for e in errors)
    assert any(e["path"].startswith("$.tasks[3]") for e in errors)
    assert client.get("/api/metadata/workflow/broken").status_code == 404


def test_definitions_are_published_to_the_definitions_topic(
    client: TestClient, settings: Settings
) -> None:
    definition = {**WORKFLOW_DEF, "name": "published_flow"}
    client.post("/api/metadata/taskdefs", json=[TASK_DEF])
    assert client.post("/api/metadata/workflow", json=definition).status_code == 200
    topic = TopicNames.from_settings(settings).definitions
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"reader-{os.urandom(4).hex()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    keys: dict[bytes, object] = {}
    try:
        support.wait_until(
            lambda: _read(consumer, keys) and b"workflow:published_flow:1" in keys,
            what="the definition record",
        )
    finally:
        consumer.close()
    record = keys[b"workflow:published_flow:1"]
    assert record.name == "published_flow"
    assert record.actor == "api:test-admin"


def _read(consumer: Consumer, into: dict) -> bool:
    for message in consumer.consume(100, 0.5):
        if message.error() is None and message.value() is not None:
            into[message.key()] = decode_definition(message.value())
    return True


def test_starting_an_unknown_workflow_is_404_json(client: TestClient) -> None:
    response = client.post("/api/workflow", json={"name": "never_registered"})
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert "never_registered" in response.json()["message"]
    by_name = client.post("/api/workflow/never_registered", json={})
    assert by_name.status_code == 404


def test_malformed_start_request_is_400_with_the_field_path(client: TestClient) -> None:
    response = client.post("/api/workflow", json={"version": "one", "priority": 500})
    assert response.status_code == 400
    paths = {e["path"] for e in response.json()["validationErrors"]}
    assert {"$.name", "$.version", "$.priority"} <= paths


def test_unknown_workflow_and_unknown_route_are_404_json(client: TestClient) -> None:
    missing = client.get("/api/workflow/no-such-id")
    assert missing.status_code == 404
    assert missing.json()["message"] == "No such workflow found by id: no-such-id"
    assert client.get("/api/workflow/no-such-id/status").status_code == 404
    assert client.delete("/api/workflow/no-such-id").status_code == 404
    route = client.get("/api/nothing/here")
    assert route.status_code == 404 and route.json()["status"] == 404


@pytest.mark.slow
def test_health_is_503_when_kafka_is_unreachable(settings: Settings) -> None:
    broken = support.settings_for(
        settings.database_url, settings.topic_prefix, kafka_bootstrap="127.0.0.1:1"
    )
    with TestClient(create_app(broken)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["healthy"] is False
    assert body["components"]["kafka"]["healthy"] is False
    assert body["components"]["postgres"]["healthy"] is True


# --- writes: commands out, read-your-writes in ---------------------------------------------
#
# The real processor is not part of these tests: a stand-in engine turns each command into
# the event the real one would emit, so the API's produce -> projector -> NOTIFY -> answer
# path runs for real (Kafka, projector, Postgres) without depending on the engine's rules.


class StandInEngine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = TopicNames.from_settings(settings)
        self.seen: list[object] = []
        self.seq: dict[str, int] = {}
        self.silent = False  # True: receive commands but emit nothing (a rejection, a slow engine)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StandInEngine:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap,
                "group.id": f"stand-in-{os.urandom(4).hex()}",
                "auto.offset.reset": "earliest",
            }
        )
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap})
        consumer.subscribe([self.topics.commands])
        # It plays the processor, of every partition: it says so, as one does (/health, and the
        # start route answers at once when no processor serves a workflow's partition).
        # An instance id of its own: the previous test's engine, if its thread outlived its
        # join under load, announces its own stop, not this one's.
        instance = f"stand-in-engine-{os.urandom(4).hex()}"
        beacon = Beacon.to_topic(self.settings, self.topics.status, "processor", instance)
        every = {self.topics.commands: range(self.settings.partitions)}
        try:
            while not self._stop.is_set():
                beacon.beat(every)
                for message in consumer.consume(10, 0.1):
                    if message.error() is None:
                        self._react(decode_command_envelope(message.value()).command, producer)
                producer.flush(10)
        finally:
            consumer.close()
            beacon.close()

    def _react(self, command: object, producer: Producer) -> None:
        self.seen.append(command)
        if self.silent:
            return
        event = self._event_for(command)
        if event is not None:
            producer.produce(
                self.topics.events, key=event.root_workflow_id, value=encode_event(event)
            )

    def _event_for(self, command: object) -> object | None:
        wid = command.workflow_id
        seq = self.seq.get(wid, 0) + 1
        self.seq[wid] = seq
        head = {"workflow_id": wid, "root_workflow_id": command.root, "seq": seq}
        head |= {"at": command.at, "actor": command.actor}
        match command:
            case cmd.StartWorkflow():
                definition = command.definition or self._definition(command.name, command.version)
                return ev.WorkflowStarted(
                    **head,
                    definition=definition,
                    input=command.input,
                    correlation_id=command.correlation_id,
                    priority=command.priority,
                )
            case cmd.PauseWorkflow():
                return ev.WorkflowPaused(**head)
            case cmd.ResumeWorkflow():
                return ev.WorkflowResumed(**head)
            case cmd.TerminateWorkflow():
                return ev.WorkflowTerminated(**head, reason=command.reason)
        return None

    def _definition(self, name: str, version: int | None) -> WorkflowDef:
        with psycopg.connect(self.settings.database_url) as conn:
            row = conn.execute(
                "SELECT body FROM definitions WHERE kind = 'workflow' AND name = %s "
                "AND version = %s",
                (name, version),
            ).fetchone()
        return parse_workflow_def(row[0])


@pytest.fixture(scope="module")
def projector(settings: Settings) -> Iterator[None]:
    runner = Projector(settings)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield
    runner.stop()
    thread.join(30)


@pytest.fixture
def engine(settings: Settings, projector: None, client: TestClient) -> Iterator[StandInEngine]:
    with StandInEngine(settings) as engine:

        def serving() -> bool:
            return bool(client.get("/health").json()["components"]["processors"]["healthy"])

        support.wait_until(serving, 30, "the API to see the stand-in engine's heartbeat")
        yield engine


def registered(client: TestClient, name: str) -> None:
    client.post("/api/metadata/taskdefs", json=[TASK_DEF])
    for version in (1, 2, 3):
        definition = {**WORKFLOW_DEF, "name": name, "version": version}
        assert client.put("/api/metadata/workflow", json=[definition]).status_code == 200


def test_start_pins_the_latest_version_and_a_get_right_after_sees_the_workflow(
    client: TestClient, engine: StandInEngine
) -> None:
    registered(client, "pinned_flow")
    response = client.post(
        "/api/workflow",
        json={"name": "pinned_flow", "input": {"n": 1}, "correlationId": "c-1", "priority": 7},
        headers={"X-Caller": "carol"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    workflow_id = response.text
    assert str(uuid.UUID(workflow_id)) == workflow_id
    got = client.get(f"/api/workflow/{workflow_id}").json()  # no sleep: read-your-writes
    assert (got["status"], got["version"], got["workflowName"]) == ("RUNNING", 3, "pinned_flow")
    assert (got["input"], got["correlationId"], got["priority"]) == ({"n": 1}, "c-1", 7)
    [command] = [c for c in engine.seen if c.workflow_id == workflow_id]
    # the actor is the key's principal; the X-Caller header of old changes nothing
    assert (command.version, command.actor, command.root) == (3, "api:test-admin", workflow_id)


def test_start_by_name_uses_the_query_parameters_and_the_body_as_input(
    client: TestClient, engine: StandInEngine
) -> None:
    registered(client, "by_name_flow")
    response = client.post(
        "/api/workflow/by_name_flow",
        params={"version": 2, "correlationId": "c-2"},
        json={"x": [1, 2]},
    )
    assert response.status_code == 200, response.text
    status = client.get(f"/api/workflow/{response.text}/status").json()
    assert status == {
        "workflowId": response.text,
        "correlationId": "c-2",
        "status": "RUNNING",
        "output": {},
        "variables": {},
    }
    assert client.get(f"/api/workflow/{response.text}").json()["version"] == 2


def test_an_idempotency_key_derives_the_id_and_return_existing_gives_it_back(
    client: TestClient, engine: StandInEngine
) -> None:
    registered(client, "keyed_flow")
    request = {"name": "keyed_flow", "idempotencyKey": "order-42"}
    first = client.post("/api/workflow", json=request)
    assert first.status_code == 200, (first.text, dict(first.headers))
    assert first.text == workflow_id_for_idempotency_key("keyed_flow", "order-42")
    again = client.post("/api/workflow", json={**request, "idempotencyStrategy": "RETURN_EXISTING"})
    assert (again.status_code, again.text) == (200, first.text)
    refused = client.post("/api/workflow", json=request)  # strategy FAIL (the default)
    assert refused.status_code == 409
    assert len([c for c in engine.seen if c.workflow_id == first.text]) == 1


def test_pause_resume_and_terminate_answer_after_the_projection_shows_them(
    client: TestClient, engine: StandInEngine
) -> None:
    registered(client, "lifecycle_flow")
    workflow_id = client.post("/api/workflow", json={"name": "lifecycle_flow"}).text
    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 200
    assert client.get(f"/api/workflow/{workflow_id}/status").json()["status"] == "PAUSED"
    assert client.put(f"/api/workflow/{workflow_id}/resume").status_code == 200
    assert client.get(f"/api/workflow/{workflow_id}/status").json()["status"] == "RUNNING"
    resume_again = client.put(f"/api/workflow/{workflow_id}/resume")
    assert resume_again.status_code == 409
    assert (
        client.delete(f"/api/workflow/{workflow_id}", params={"reason": "done"}).status_code == 200
    )
    got = client.get(f"/api/workflow/{workflow_id}").json()
    assert (got["status"], got["reasonForIncompletion"]) == ("TERMINATED", "done")
    assert got["endTime"] > 0
    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 409


def test_a_start_the_engine_does_not_act_on_answers_202_with_the_id_after_the_bound(
    client: TestClient, engine: StandInEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered(client, "slow_flow")
    monkeypatch.setattr(routes_workflow, "START_WAIT_S", 0.5)
    engine.silent = True
    response = client.post("/api/workflow", json={"name": "slow_flow"})
    assert response.status_code == 202
    support.wait_until(lambda: any(c.workflow_id == response.text for c in engine.seen))
    assert client.get(f"/api/workflow/{response.text}").status_code == 404
