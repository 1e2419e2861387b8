"""GET /metrics against real Postgres (seeded read model) and Kafka (a task queue with lag)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.api import metrics_counts
from orchestrator.api.app import create_app
from orchestrator.flow.presence import Poll
from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.topics import TopicNames, TopicSpec, gate_topic_specs, presence_topic_spec
from orchestrator.settings import Settings
from projections.migrate import migrate_url
from tests import readmodel_support as support
from tests.auth_support import authed

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    migrate_url(url)
    settings = support.settings_for(url, f"test-metrics-{os.urandom(4).hex()}")
    yield settings
    support.remove_topics(settings)
    extra = [TopicNames.from_settings(settings).task("reserve"), presence_topic_spec(settings).name]
    extra += [spec.name for spec in gate_topic_specs(settings)]
    delete_topics(settings, extra)
    support.drop_schema(base, schema)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with authed(TestClient(create_app(settings)), settings) as client:
        yield client


class Log:
    """Writes read-model rows as the projector would (events with their log positions)."""

    def __init__(self, settings: Settings) -> None:
        self.conn = psycopg.connect(settings.database_url, autocommit=True)
        self.topic = TopicNames.from_settings(settings).events
        self.consumer = f"{settings.topic_prefix}-projector"
        self.offset = {p: self._last_offset(p) for p in (0, 1)}
        self.seq: dict[str, int] = {}

    def _last_offset(self, partition: int) -> int:
        row = self.conn.execute(
            "SELECT max(kafka_offset) FROM events WHERE topic = %s AND kafka_partition = %s",
            (self.topic, partition),
        ).fetchone()
        return -1 if row is None or row[0] is None else row[0]

    def workflow(self, wid: str, wtype: str, status: str = "RUNNING") -> None:
        self.conn.execute(
            "INSERT INTO workflows (workflow_id, root_workflow_id, workflow_type, version, status, "
            "create_time, start_time, update_time, last_seq, definition) "
            "VALUES (%s, %s, %s, 1, %s, %s, %s, %s, 1, '{}')",
            (wid, wid, wtype, status, T0, T0, T0),
        )

    def task(self, task_id: str, wid: str, scheduled: int, started: int) -> None:
        self.conn.execute(
            "INSERT INTO tasks (task_id, workflow_id, ref, definition_ref, name, task_type, kind, "
            "status, scheduled_time, start_time, update_time, seq, last_event_seq) "
            "VALUES (%s, %s, 'r', 'r', 'reserve', 'reserve', 'SIMPLE', 'COMPLETED', %s, %s, %s, "
            "1, 1)",
            (task_id, wid, scheduled, started, started),
        )

    def event(self, wid: str, etype: str, at: int = T0, partition: int = 0, **data: object) -> None:
        self.seq[wid] = self.seq.get(wid, 0) + 1
        self.offset[partition] += 1
        self.conn.execute(
            "INSERT INTO events (workflow_id, seq, root_workflow_id, type, at, actor, data, topic, "
            "kafka_partition, kafka_offset) VALUES (%s, %s, %s, %s, %s, 'engine', %s, %s, %s, %s)",
            (wid, self.seq[wid], wid, etype, at, json.dumps(data), self.topic, partition,
             self.offset[partition]),
        )  # fmt: skip
        self.conn.execute(
            "INSERT INTO projector_offsets (consumer, topic, partition, next_offset, "
            "high_watermark, last_event_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
            "next_offset = EXCLUDED.next_offset, high_watermark = EXCLUDED.high_watermark, "
            "last_event_at = EXCLUDED.last_event_at",
            (self.consumer, self.topic, partition, self.offset[partition] + 1,
             self.offset[partition] + 3, at),
        )  # fmt: skip


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_counters_histograms_and_lag_come_from_the_read_model(
    client: TestClient, settings: Settings
) -> None:
    log = Log(settings)
    log.workflow("a", "orders", "COMPLETED")
    log.workflow("b", "orders", "FAILED")
    log.workflow("c", "payments")
    log.task("t1", "a", T0, T0 + 40)  # waited 40 ms
    for wid, part in (("a", 0), ("b", 1), ("c", 1)):
        log.event(wid, "WorkflowStarted", partition=part)
    log.event("a", "TaskPickedUp", at=T0 + 40, task_id="t1")
    log.event("a", "TaskCompleted", at=T0 + 3040, task_id="t1")  # ran 3 s
    log.event("a", "WorkflowCompleted")
    log.event("b", "WorkflowFailed", partition=1, status="TIMED_OUT")
    m = scrape(client)
    assert m[("orchestrator_workflows_started_total", (("workflow_type", "orders"),))] == 2
    assert m[("orchestrator_workflows_started_total", (("workflow_type", "payments"),))] == 1
    assert m[("orchestrator_workflows_completed_total", (("workflow_type", "orders"),))] == 1
    failed = (("status", "TIMED_OUT"), ("workflow_type", "orders"))
    assert m[("orchestrator_workflows_failed_total", failed)] == 1
    wait = "orchestrator_task_queue_wait_seconds"
    assert m[(f"{wait}_bucket", (("le", "0.025"), ("task_type", "reserve")))] == 0
    assert m[(f"{wait}_bucket", (("le", "0.05"), ("task_type", "reserve")))] == 1
    assert m[(f"{wait}_sum", (("task_type", "reserve"),))] == pytest.approx(0.04)
    run = "orchestrator_task_execution_seconds"
    assert m[(f"{run}_bucket", (("le", "2.5"), ("task_type", "reserve")))] == 0
    assert m[(f"{run}_bucket", (("le", "5.0"), ("task_type", "reserve")))] == 1
    assert m[(f"{run}_count", (("task_type", "reserve"),))] == 1
    part1 = (("partition", "1"), ("topic", log.topic))
    assert m[("orchestrator_projection_lag_records", part1)] == 2
    assert (
        m[("orchestrator_workflows_open", (("status", "RUNNING"), ("workflow_type", "payments")))]
        == 1
    )

    # The next scrape counts only what arrived since; nothing twice.
    log.event("c", "WorkflowTerminated", partition=1)
    again = scrape(client)
    assert again[("orchestrator_workflows_started_total", (("workflow_type", "orders"),))] == 2
    assert again[("orchestrator_workflows_terminated_total", (("workflow_type", "payments"),))] == 1


def test_a_long_history_is_counted_in_chunks_over_several_scrapes(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = Log(settings)
    log.workflow("d", "chunky")
    for _ in range(5):
        log.event("d", "WorkflowRestarted")
    monkeypatch.setattr(metrics_counts, "CHUNK", 2)
    key = ("orchestrator_workflow_operations_total",
           (("operation", "restart"), ("workflow_type", "chunky")))  # fmt: skip
    first = scrape(client)
    assert first[("orchestrator_metrics_uncounted_events", ())] > 0
    seen = [first.get(key, 0)]
    for _ in range(4):
        seen.append(scrape(client).get(key, 0))
    assert seen[-1] == 5 and seen == sorted(seen) and seen[0] < 5


def test_queue_depth_is_the_worker_groups_lag(client: TestClient, settings: Settings) -> None:
    topic = TopicNames.from_settings(settings).task("reserve")
    assert ensure_topics(settings, [TopicSpec(topic, 1)], 15).ok
    support.produce(settings.kafka_bootstrap, topic, [(b"k", b"v")] * 3)
    group = f"{settings.topic_prefix}-worker-reserve"
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    consumer.close()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO definitions (kind, name, version, body, registered_at) "
            "VALUES ('task', 'reserve', 0, '{}', 0) ON CONFLICT DO NOTHING"
        )
    m = scrape(client)
    assert m[("orchestrator_task_queue_depth", (("task_type", "reserve"),))] == 2
    assert m[("orchestrator_metrics_source_up", (("source", "kafka"),))] == 1


def test_gate_and_poller_gauges_come_from_the_gate_status_and_presence_topics(
    client: TestClient, settings: Settings
) -> None:
    """What a gate publishes (held, in flight) and who announced a poll, as gauges; a stale
    gate record is left out, and a poll older than the active window does not count."""
    names = TopicNames.from_settings(settings)
    assert ensure_topics(settings, gate_topic_specs(settings), 15).ok
    now = int(time.time() * 1000)
    status = [
        ("resize", {"held": 12, "inFlight": 4, "concurrentExecLimit": 4, "at": now}),
        ("gone", {"held": 3, "inFlight": 1, "concurrentExecLimit": 1, "at": now - 3_600_000}),
    ]
    support.produce(
        settings.kafka_bootstrap,
        names.gate_status,
        [(name.encode(), json.dumps({"type": name, **v}).encode()) for name, v in status],
    )
    old = now - (settings.active_worker_last_poll_secs + 60) * 1000
    polls = [
        Poll("resize", "blue", "w-blue-1", now),
        Poll("resize", "blue", "w-blue-2", now),
        Poll("resize", None, "w-default", old),  # stopped polling: seen, not active
    ]
    support.produce(settings.kafka_bootstrap, names.presence, [(p.key, p.encode()) for p in polls])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO definitions (kind, name, version, body, registered_at) "
            "VALUES ('task', 'resize', 0, '{}', 0) ON CONFLICT DO NOTHING"
        )

    pollers = "orchestrator_active_pollers"
    blue = (pollers, (("domain", "blue"), ("task_type", "resize")))
    held = ("orchestrator_gate_held_tasks", (("task_type", "resize"),))
    # The presence view follows its topic in the background; the gate status is cached 2 s.
    support.wait_until(
        lambda: {blue, held} <= set(scrape(client)), 30, "the polls and the gate status"
    )
    m = scrape(client)
    assert m[held] == 12
    assert m[("orchestrator_gate_in_flight_tasks", (("task_type", "resize"),))] == 4
    assert ("orchestrator_gate_held_tasks", (("task_type", "gone"),)) not in m
    assert m[blue] == 2
    assert m[(pollers, (("domain", ""), ("task_type", "resize")))] == 0
    assert m[("orchestrator_metrics_source_up", (("source", "gate"),))] == 1
