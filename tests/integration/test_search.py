"""Search, lists and remove through the REST API against real Postgres with seeded rows.

The rows are written straight into the read model of a private schema (the projector is
tested elsewhere); the API runs in-process (its Kafka producer is idle here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from projections.migrate import migrate_url
from tests import readmodel_support as support
from tests.auth_support import authed

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

T0 = 1_700_000_000_000
DEFINITION = {"name": "x", "version": 1, "tasks": []}

# id, type, status, correlation, start offset (s), end offset (s) or None, parent, input, output
SEED = [
    ("wf-01", "orders", "RUNNING", "c-1", 1, None, None, {"customer": "alice"}, {}),
    ("wf-02", "orders", "COMPLETED", "c-1", 2, 12, None, {"customer": "bob"}, {"total": 42}),
    ("wf-03", "orders", "FAILED", "c-2", 3, 5, None, {"customer": "carol smith"}, {}),
    ("wf-04", "orders", "PAUSED", None, 4, None, None, {}, {}),
    ("wf-05", "payments", "RUNNING", "c-1", 5, None, "wf-01", {"note": "refund alice"}, {}),
    ("wf-06", "payments", "COMPLETED", "c-3", 6, 8, None, {}, {"receipt": "r-9"}),
    ("wf-07", "payments", "TERMINATED", "c-3", 7, 9, None, {}, {}),
    ("wf-08", "shipping", "TIMED_OUT", "ab_1", 8, 20, None, {}, {}),
    ("wf-09", "shipping", "COMPLETED", "abx1", 9, 10, "wf-02", {}, {}),
    ("wf-10", "shipping", "RUNNING", "c-4", 10, None, None, {"city": "Lyon"}, {}),
]


@pytest.fixture(scope="module")
def schema_url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    migrate_url(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for row in SEED:
            _insert(conn, *row)
        _insert_tasks(conn)
    yield url
    support.drop_schema(base, schema)


def _insert(conn: psycopg.Connection, wid: str, wtype: str, status: str, cid: str | None,
            start: int, end: int | None, parent: str | None, inp: dict, out: dict) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO workflows (workflow_id, root_workflow_id, parent_workflow_id, workflow_type, "
        "version, status, correlation_id, input, output, reason, failed_ref_names, "
        "failed_task_names, create_time, start_time, update_time, end_time, last_seq, definition) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s)",
        (
            wid, parent or wid, parent, wtype, 2 if wid == "wf-02" else 1, status, cid,
            json.dumps(inp), json.dumps(out), "boom" if status == "FAILED" else None,
            ["charge", "notify"] if status == "FAILED" else [],
            ["charge_card", "notify_user"] if status == "FAILED" else None, T0, T0 + start * 1000,
            T0 + (end or start) * 1000, None if end is None else T0 + end * 1000,
            json.dumps(DEFINITION),
        ),
    )  # fmt: skip


def _insert_tasks(conn: psycopg.Connection) -> None:
    for i, (wid, ttype, status) in enumerate(
        [("wf-01", "reserve", "IN_PROGRESS"), ("wf-02", "reserve", "COMPLETED"),
         ("wf-03", "charge", "FAILED"), ("wf-06", "charge", "COMPLETED")]
    ):  # fmt: skip
        conn.execute(
            "INSERT INTO tasks (task_id, workflow_id, ref, definition_ref, name, task_type, kind, "
            "status, scheduled_time, start_time, update_time, seq, last_event_seq) "
            "VALUES (%s, %s, %s, %s, %s, %s, 'SIMPLE', %s, %s, %s, %s, 1, 1)",
            (f"t-{i}", wid, f"{ttype}_ref", f"{ttype}_ref", ttype, ttype, status,
             T0 + i * 1000, T0 + i * 1000 + 250, T0 + i * 1000 + 500),
        )  # fmt: skip


@pytest.fixture(scope="module")
def client(schema_url: str) -> Iterator[TestClient]:
    prefix = f"test-search-{os.urandom(4).hex()}"
    settings = support.settings_for(schema_url, prefix)
    with authed(TestClient(create_app(settings)), settings) as client:
        yield client
    support.remove_topics(settings)


def ids(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/api/workflow/search", params=params)
    assert response.status_code == 200, response.text
    return [r["workflowId"] for r in response.json()["results"]]


def test_type_and_status_select_exactly_the_matching_workflows(client: TestClient) -> None:
    found = ids(client, query="workflowType = orders AND status IN (RUNNING, PAUSED)")
    assert found == ["wf-04", "wf-01"]  # default order: newest start first


def test_and_or_group_to_the_right_as_in_conductor(client: TestClient) -> None:
    conductor = ids(client, query="workflowType = payments AND status = RUNNING OR status = PAUSED")
    assert conductor == ["wf-05"]  # payments AND (RUNNING OR PAUSED)
    grouped = ids(client, query="(workflowType = payments AND status = RUNNING) OR status = PAUSED")
    assert grouped == ["wf-05", "wf-04"]


def test_times_between_is_inclusive_and_open_workflows_have_no_end(client: TestClient) -> None:
    window = f"startTime BETWEEN {T0 + 3000} AND {T0 + 5000}"
    assert ids(client, query=window, sort="startTime:ASC") == ["wf-03", "wf-04", "wf-05"]
    open_ = ids(client, query="endTime IS NULL", sort="workflowId")
    assert open_ == ["wf-01", "wf-04", "wf-05", "wf-10"]
    late = ids(client, query=f"endTime >= {T0 + 12000}", sort="workflowId")
    assert late == ["wf-02", "wf-08"]


def test_starts_with_treats_like_wildcards_literally(client: TestClient) -> None:
    assert ids(client, query="correlationId STARTS_WITH 'ab_'") == ["wf-08"]
    assert ids(client, query="correlationId STARTS_WITH ab", sort="workflowId") == [
        "wf-08",
        "wf-09",
    ]


def test_not_equal_also_finds_rows_without_the_field(client: TestClient) -> None:
    found = ids(client, query="workflowType = orders AND correlationId != c-1", sort="workflowId")
    assert found == ["wf-03", "wf-04"]


def test_parent_workflow_id_is_searchable(client: TestClient) -> None:
    assert ids(client, query="parentWorkflowId = 'wf-01'") == ["wf-05"]
    assert len(ids(client, query="parentWorkflowId IS NOT NULL")) == 2


def test_free_text_searches_input_and_output_words_and_ids(client: TestClient) -> None:
    assert ids(client, freeText="alice", sort="workflowId") == ["wf-01", "wf-05"]
    assert ids(client, freeText="42") == ["wf-02"]  # an output number
    assert ids(client, freeText='"carol smith"') == ["wf-03"]
    assert ids(client, freeText="alice -refund") == ["wf-01"]
    assert ids(client, freeText="wf-07") == ["wf-07"]  # an exact workflow id
    assert ids(client, freeText="alice", query="workflowType = payments") == ["wf-05"]
    assert len(ids(client, freeText="*")) == len(SEED)


def test_sort_by_several_fields_and_pages_without_overlap(client: TestClient) -> None:
    ordered = ids(client, sort="workflowType:DESC,startTime:ASC")
    assert ordered[:3] == ["wf-08", "wf-09", "wf-10"]
    assert ids(client, sort=["workflowType:DESC", "startTime:ASC"]) == ordered  # repeated params
    pages = [ids(client, sort="startTime:DESC", start=s, size=4) for s in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [i for page in pages for i in page] == [f"wf-{n:02d}" for n in range(10, 0, -1)]
    body = client.get("/api/workflow/search", params={"size": 3}).json()
    assert body["totalHits"] == len(SEED) and len(body["results"]) == 3


def test_summary_has_conductors_shape(client: TestClient) -> None:
    [summary] = client.get("/api/workflow/search", params={"query": "workflowId = wf-03"}).json()[
        "results"
    ]
    assert summary["startTime"] == "2023-11-14T22:13:23.000Z"
    assert summary["endTime"] == "2023-11-14T22:13:25.000Z"
    assert summary["executionTime"] == 2000
    assert json.loads(summary["input"]) == {"customer": "carol smith"}
    assert summary["output"] == "{}"
    assert summary["failedReferenceTaskNames"] == "charge,notify"
    assert summary["failedTaskNames"] == ["charge_card", "notify_user"]
    assert (summary["status"], summary["reasonForIncompletion"]) == ("FAILED", "boom")
    running = client.get("/api/workflow/search", params={"query": "workflowId = wf-01"}).json()
    assert running["results"][0]["endTime"] is None
    assert running["results"][0]["failedTaskNames"] == []  # never recorded (NULL)
    assert running["results"][0]["executionTime"] == 0


@pytest.mark.parametrize(
    ("params", "position"),
    [
        ({"query": "status = RUNNING AND"}, 20),
        ({"query": "startTime > soon"}, 12),
        ({"query": "bogus = 1"}, 0),
        ({"sort": "startTime:SIDEWAYS"}, 10),
    ],
)
def test_malformed_search_is_400_json_naming_the_position(
    client: TestClient, params: dict[str, str], position: int
) -> None:
    response = client.get("/api/workflow/search", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert f"at position {position}: expected " in body["message"]


def test_too_large_a_page_is_400(client: TestClient) -> None:
    response = client.get("/api/workflow/search", params={"size": 5001})
    assert response.status_code == 400
    assert "5000" in response.json()["message"]


def test_search_v2_returns_whole_workflows(client: TestClient) -> None:
    body = client.get("/api/workflow/search-v2", params={"query": "workflowId IN (wf-02, wf-06)",
                                                         "sort": "workflowId"}).json()  # fmt: skip
    assert body["totalHits"] == 2
    assert [w["workflowId"] for w in body["results"]] == ["wf-02", "wf-06"]
    assert body["results"][0]["output"] == {"total": 42}
    assert body["results"][0]["version"] == 2


def test_tasks_search_filters_on_task_and_workflow_fields(client: TestClient) -> None:
    body = client.get("/api/tasks/search", params={"query": "taskType = charge",
                                                   "sort": "scheduledTime:ASC"}).json()  # fmt: skip
    assert [t["taskId"] for t in body["results"]] == ["t-2", "t-3"]
    assert body["results"][0]["queueWaitTime"] == 250
    assert body["results"][0]["workflowType"] == "orders"
    joined = client.get("/api/tasks/search", params={"query": "workflowType = orders AND "
                                                     "status = COMPLETED"}).json()  # fmt: skip
    assert [t["taskId"] for t in joined["results"]] == ["t-1"]
    bad = client.get("/api/tasks/search", params={"query": "status = PAUSED"})
    assert bad.status_code == 400 and "position 9" in bad.json()["message"]
    v2 = client.get("/api/tasks/search-v2", params={"query": "taskId = t-0"}).json()
    assert v2["results"][0]["referenceTaskName"] == "reserve_ref"


def test_correlated_lists_open_workflows_unless_closed_ones_are_asked(client: TestClient) -> None:
    open_ = client.get("/api/workflow/orders/correlated/c-1").json()
    assert [w["workflowId"] for w in open_] == ["wf-01"]
    every = client.get("/api/workflow/orders/correlated/c-1", params={"includeClosed": True})
    assert sorted(w["workflowId"] for w in every.json()) == ["wf-01", "wf-02"]
    many = client.post(
        "/api/workflow/orders/correlated",
        params={"includeClosed": True},
        json=["c-1", "c-2", "c-9"],
    ).json()
    assert {k: len(v) for k, v in many.items()} == {"c-1": 2, "c-2": 1, "c-9": 0}


def test_running_lists_open_ids_of_a_version_in_a_time_window(client: TestClient) -> None:
    assert client.get("/api/workflow/running/orders").json() == ["wf-01", "wf-04"]
    assert client.get("/api/workflow/running/orders", params={"version": 2}).json() == []
    window = {"startTime": T0 + 2000, "endTime": T0 + 4000}
    assert client.get("/api/workflow/running/orders", params=window).json() == ["wf-04"]


def test_remove_hides_an_ended_workflow_from_lists_but_keeps_it(
    client: TestClient, schema_url: str
) -> None:
    assert client.delete("/api/workflow/wf-01/remove").status_code == 409  # still running
    assert client.delete("/api/workflow/no-such/remove").status_code == 404
    response = client.delete("/api/workflow/wf-07/remove", headers={"X-Caller": "dora"})
    assert response.status_code == 200 and response.json()["removed"] is True
    with psycopg.connect(schema_url) as conn:  # who removed it: the key's principal, no header
        row = conn.execute("SELECT actor FROM workflow_removals WHERE workflow_id = 'wf-07'")
        assert row.fetchone() == ("api:test-admin",)
    assert client.delete("/api/workflow/wf-07/remove").status_code == 200  # again: harmless
    assert ids(client, query="workflowType = payments", sort="workflowId") == ["wf-05", "wf-06"]
    assert ids(client, freeText="wf-07") == []
    closed = client.get("/api/workflow/payments/correlated/c-3", params={"includeClosed": True})
    assert [w["workflowId"] for w in closed.json()] == ["wf-06"]
    assert client.get("/api/workflow/wf-07").json()["status"] == "TERMINATED"  # still readable


def test_task_log_lists_the_lines_of_every_report_in_order(
    client: TestClient, schema_url: str
) -> None:
    reports = [  # (seq, type, at, logs) of task t-1 (wf-02), and one of another task
        (2, "TaskProgressed", T0 + 10, ["fetched 3 pages"], "t-1"),
        (3, "TaskProgressed", T0 + 20, [], "t-1"),
        (4, "TaskCompleted", T0 + 30, ["wrote 3 rows", "done"], "t-1"),
        (5, "TaskCompleted", T0 + 40, ["not mine"], "t-9"),
    ]
    with psycopg.connect(schema_url, autocommit=True) as conn:
        for seq, kind, at, logs, task in reports:
            conn.execute(
                "INSERT INTO events (workflow_id, seq, root_workflow_id, type, at, actor, data, "
                "topic, kafka_partition, kafka_offset) VALUES ('wf-02', %s, 'wf-02', %s, %s, "
                "'worker:w1', %s, 'events', 0, %s)",
                (seq, kind, at, json.dumps({"task_id": task, "logs": logs}), seq),
            )
    response = client.get("/api/tasks/t-1/log")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"log": "fetched 3 pages", "taskId": "t-1", "createdTime": T0 + 10},
        {"log": "wrote 3 rows", "taskId": "t-1", "createdTime": T0 + 30},
        {"log": "done", "taskId": "t-1", "createdTime": T0 + 30},
    ]
    assert client.get("/api/tasks/t-0/log").json() == []
    missing = client.get("/api/tasks/no-such-task/log")
    assert missing.status_code == 404 and "no-such-task" in missing.json()["message"]
