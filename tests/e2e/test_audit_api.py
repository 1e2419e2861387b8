"""GET /api/workflow/{id}/history and /state?at=SEQ against real Kafka and Postgres.

Events go onto the events topic as the processor writes them; the real projector (a thread)
fills the read model; the API answers from it. Time travel folds the stored events with the
engine's evolve, so /state at the last event must equal GET /workflow/{id} (the projection).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.codec.wire import encode_event
from orchestrator.domain import events as ev
from orchestrator.domain import serde
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import authed
from tests.readmodel_fixtures import happy_history

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

GOLDEN = Path(__file__).parents[1] / "golden"
HAPPY = f"wf-{uuid.uuid4().hex[:8]}"


def golden(name: str) -> list[ev.Event]:
    return [serde.event_from_jsonable(e) for e in json.loads((GOLDEN / name).read_text())["events"]]


RESTARTED = golden("restart_history.json")  # workflow wf-1: fails, is restarted, completes


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    base = support.database_url()
    schema = support.create_schema(base)
    prefix = f"test-audit-{os.urandom(5).hex()}"
    settings = support.settings_for(support.schema_url(base, schema), prefix)
    topics = support.create_topics(settings)
    events = happy_history(HAPPY) + RESTARTED
    support.produce(
        settings.kafka_bootstrap,
        topics.events,
        [(e.root_workflow_id.encode(), encode_event(e)) for e in events],
    )
    projector = Projector(settings)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    support.wait_until(lambda: _projected(settings) == len(events), 60, "events projected")
    yield settings
    projector.stop()
    thread.join(30)
    support.remove_topics(settings)
    support.drop_schema(base, schema)


def _projected(settings: Settings) -> int:
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0  # the projector has not migrated the schema yet
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with authed(TestClient(create_app(settings)), settings) as client:
        yield client


def test_history_lists_every_event_in_order_with_actor_and_data(client: TestClient) -> None:
    response = client.get(f"/api/workflow/{HAPPY}/history")
    assert response.status_code == 200, response.text
    history = response.json()
    assert [e["seq"] for e in history] == list(range(1, 11))
    assert history[0]["type"] == "WorkflowStarted" and history[0]["actor"] == "api:alice"
    assert history[0]["data"]["definition"]["name"] == "order_flow"
    failed = history[5]
    assert (failed["type"], failed["actor"]) == ("TaskFailed", "worker:w2")
    assert failed["data"]["reason"] == "card declined" and failed["data"]["status"] == "FAILED"
    assert history[9]["at"] == happy_history(HAPPY)[9].at
    assert set(history[0]) == {"seq", "type", "at", "actor", "data"}


def test_history_of_an_unknown_workflow_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/workflow/no-such-id/history")
    assert response.status_code == 404
    assert response.json()["message"] == "No such workflow found by id: no-such-id"


def test_state_at_a_seq_is_the_workflow_as_it_was_then(client: TestClient) -> None:
    at6 = client.get(f"/api/workflow/{HAPPY}/state", params={"at": 6})
    assert at6.status_code == 200, at6.text
    body = at6.json()
    assert (body["seq"], body["status"], body["workflowId"]) == (6, "RUNNING", HAPPY)
    assert [(t["referenceTaskName"], t["status"]) for t in body["tasks"]] == [
        ("reserve_ref", "COMPLETED"),
        ("charge_ref", "FAILED"),
    ]
    assert body["tasks"][1]["reasonForIncompletion"] == "card declined"
    assert body["variables"] == {"region": "eu"}  # VariablesUpdated is event 8
    assert body["updateTime"] == happy_history(HAPPY)[5].at and body["endTime"] == 0
    first = client.get(f"/api/workflow/{HAPPY}/state", params={"at": 1}).json()
    assert (first["status"], first["tasks"], first["input"]["order"]) == ("RUNNING", [], HAPPY)


def test_state_at_the_last_event_equals_the_projected_workflow(client: TestClient) -> None:
    for workflow_id in (HAPPY, "wf-1"):
        live = client.get(f"/api/workflow/{workflow_id}").json()
        last = client.get(f"/api/workflow/{workflow_id}/state").json()
        assert last.pop("seq") == len(client.get(f"/api/workflow/{workflow_id}/history").json())
        assert last == live


def test_state_before_a_restart_shows_the_failed_first_run(client: TestClient) -> None:
    restart = next(e.seq for e in RESTARTED if isinstance(e, ev.WorkflowRestarted))
    before = client.get("/api/workflow/wf-1/state", params={"at": restart - 1}).json()
    after = client.get("/api/workflow/wf-1/state", params={"at": restart}).json()
    assert before["status"] == "FAILED" and before["failedReferenceTaskNames"]
    assert before["reasonForIncompletion"]
    assert [t["status"] for t in before["tasks"]] == ["COMPLETED", "FAILED"]
    assert (after["status"], after["tasks"], after["reasonForIncompletion"]) == (
        "RUNNING",
        [],  # the first run's tasks are retired from the current view
        None,
    )


@pytest.mark.parametrize("at", [0, -3, 11])
def test_state_outside_the_history_is_a_json_400(client: TestClient, at: int) -> None:
    response = client.get(f"/api/workflow/{HAPPY}/state", params={"at": at})
    assert response.status_code == 400
    assert response.json()["message"] == f"at must be between 1 and 10 (the last event), got {at}"


def test_state_of_an_unknown_workflow_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/workflow/no-such-id/state", params={"at": 1})
    assert response.status_code == 404 and response.json()["status"] == 404
