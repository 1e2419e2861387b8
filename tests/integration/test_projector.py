"""The projector on real Postgres and Kafka: idempotent batches, kill -9 safety, dead letters.

Each test has its own Postgres schema and topic prefix (tests/readmodel_support.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer

from orchestrator.codec.wire import decode_dead_letter, encode_definition, encode_event
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef
from orchestrator.kafka.topics import TopicNames, definition_key
from orchestrator.settings import Settings
from projections.apply import Batch, DefinitionChange, LoggedEvent, Position, apply_batch
from projections.migrate import migrate
from projections.projector import consumer_name
from tests import readmodel_support as support
from tests.readmodel_fixtures import DEFINITION, happy_history

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    url: str  # with search_path = the test's schema
    settings: Settings
    topics: TopicNames


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    yield url
    support.drop_schema(base, schema)


@pytest.fixture
def env(pg_url: str) -> Iterator[Env]:
    prefix = f"test-projector-{os.urandom(5).hex()}"
    settings = support.settings_for(pg_url, prefix, partitions="2")
    topics = support.create_topics(settings)
    yield Env(pg_url, settings, topics)
    support.remove_topics(settings)


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row of the read model (without wall-clock columns)."""
    queries = {
        "workflows": "SELECT * FROM workflows ORDER BY workflow_id",
        "tasks": "SELECT * FROM tasks ORDER BY task_id",
        "events": "SELECT * FROM events ORDER BY workflow_id, seq",
        "definitions": "SELECT * FROM definitions ORDER BY kind, name, version",
        "offsets": "SELECT consumer, topic, partition, next_offset, high_watermark, "
        "last_event_at FROM projector_offsets ORDER BY 1, 2, 3",
    }
    return {table: conn.execute(sql).fetchall() for table, sql in queries.items()}


def logged(events: list[ev.Event], first_offset: int = 0) -> list[LoggedEvent]:
    return [LoggedEvent(e, "t.events", 0, first_offset + i) for i, e in enumerate(events)]


# --- (a) applying a batch twice ---------------------------------------------------------------


def test_batch_applied_twice_gives_the_same_rows(pg_url: str) -> None:
    history = happy_history("wf-a")
    definition = DefinitionChange("workflow", "order_flow", 2, {"name": "order_flow"}, 5, "api:x")
    batch = Batch(
        events=logged(history),
        definitions=[definition],
        positions=[Position("t.events", 0, len(history), len(history), history[-1].at)],
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = apply_batch(conn, batch, "c")
        once = snapshot(conn)
        second = apply_batch(conn, batch, "c")
        assert snapshot(conn) == once
    assert (first.applied, first.duplicates) == (10, 0)
    assert (second.applied, second.duplicates) == (0, 10)
    assert len(once["events"]) == 10 and len(once["tasks"]) == 3


def test_overlapping_batches_and_reemitted_events_apply_each_event_once(pg_url: str) -> None:
    history = happy_history("wf-b")
    # Batch 2 re-reads events 5..6 (a crash before commit of a later batch), and carries a
    # re-emitted copy of event 7 (the processor repeats it after a crash) at a later offset.
    first = Batch(events=logged(history[:6]), positions=[Position("t.events", 0, 6)])
    second = Batch(
        events=logged(history[4:], first_offset=4) + logged([history[6]], first_offset=10),
        positions=[Position("t.events", 0, 11)],
    )
    everything = Batch(events=logged(history), positions=[Position("t.events", 0, 11)])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        apply_batch(conn, first, "c")
        result = apply_batch(conn, second, "c")
        in_two = snapshot(conn)
        conn.execute("TRUNCATE workflows, tasks, events, projector_offsets")
        apply_batch(conn, everything, "c")
        in_one = snapshot(conn)
    assert (result.applied, result.duplicates) == (4, 3)
    # Same rows, except where each event was read from (the copy at offset 10 was dropped).
    assert in_two == in_one
    workflow = in_one["workflows"][0]
    assert workflow[0] == "wf-b" and "COMPLETED" in workflow


def test_rows_follow_conductor_semantics(pg_url: str) -> None:
    history = happy_history("wf-c")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        apply_batch(conn, Batch(events=logged(history)), "c")
        row = conn.execute(
            "SELECT status, last_seq, task_count, variables, output, end_time, version, "
            "workflow_type, correlation_id, priority FROM workflows"
        ).fetchone()
        tasks = conn.execute(
            "SELECT ref, status, seq, retry_count, retried, retried_task_id, poll_count, logs "
            "FROM tasks ORDER BY seq"
        ).fetchall()
        found = conn.execute(
            "SELECT workflow_id FROM workflows WHERE search_text @@ plainto_tsquery('simple', %s)",
            ("shipped",),
        ).fetchall()
    assert row == (
        "COMPLETED",
        10,
        3,
        {"region": "eu", "charged": 1},
        {"paid": 10, "word": "shipped"},
        history[-1].at,
        2,
        "order_flow",
        "corr-wf-c",
        3,
    )
    assert tasks == [
        ("reserve_ref", "COMPLETED", 1, 0, False, None, 1, ["got it"]),
        ("charge_ref", "FAILED", 2, 0, True, None, 0, []),
        ("charge_ref", "COMPLETED", 3, 1, False, "wf-c-t2", 1, []),
    ]
    assert found == [("wf-c",)]


# --- the projector process ------------------------------------------------------------------


def start_projector(env: Env, pause_file: Path | None = None) -> subprocess.Popen[str]:
    child_env = {
        **os.environ,
        "ORCHESTRATOR_DATABASE_URL": env.url,
        "ORCHESTRATOR_KAFKA_BOOTSTRAP": env.settings.kafka_bootstrap,
        "ORCHESTRATOR_TOPIC_PREFIX": env.settings.topic_prefix,
        "ORCHESTRATOR_PARTITIONS": "2",
    }
    child_env.pop("PROJECTOR_TEST_PAUSE_BEFORE_COMMIT", None)
    if pause_file is not None:
        child_env["PROJECTOR_TEST_PAUSE_BEFORE_COMMIT"] = str(pause_file)
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "projector"],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, and the process must exit cleanly; returns its log."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def produce_events(env: Env, events: list[ev.Event]) -> None:
    support.produce(
        env.settings.kafka_bootstrap,
        env.topics.events,
        [(e.root_workflow_id, encode_event(e)) for e in events],
    )


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def status_of(url: str, workflow_id: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT status FROM workflows WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    return None if row is None else row[0]


@pytest.mark.slow
def test_kill_9_before_commit_leaves_no_partial_rows_and_loses_nothing(
    env: Env, tmp_path: Path
) -> None:
    first, second = happy_history("wf-first"), happy_history("wf-second")
    produce_events(env, first)
    process = start_projector(env)
    try:
        support.wait_until(lambda: status_of(env.url, "wf-first") == "COMPLETED", what="wf-first")
    finally:
        stop(process)
    offsets_before = count(env.url, "SELECT sum(next_offset) FROM projector_offsets")
    assert offsets_before == 10

    # The second batch, plus a re-emitted copy of an event the projector already has.
    produce_events(env, [*second, first[-1]])
    pause = tmp_path / "paused"
    process = start_projector(env, pause_file=pause)
    try:
        support.wait_until(pause.exists, what="the projector to pause before COMMIT")
        # Its rows are written inside the open transaction, invisible to everyone else.
        assert count(env.url, "SELECT count(*) FROM events WHERE workflow_id = 'wf-second'") == 0
        assert status_of(env.url, "wf-second") is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert count(env.url, "SELECT count(*) FROM events WHERE workflow_id = 'wf-second'") == 0
    assert count(env.url, "SELECT count(*) FROM tasks WHERE workflow_id = 'wf-second'") == 0
    assert count(env.url, "SELECT sum(next_offset) FROM projector_offsets") == offsets_before

    process = start_projector(env)
    try:
        # The killed member holds its partitions until its session times out (10 s).
        support.wait_until(
            lambda: status_of(env.url, "wf-second") == "COMPLETED", timeout=60, what="wf-second"
        )
        support.wait_until(
            lambda: (
                count(
                    env.url,
                    "SELECT sum(next_offset) FROM projector_offsets WHERE topic = %s",
                    env.topics.events,
                )
                == 21
            ),
            what="all 21 records consumed",
        )
    finally:
        stop(process)
    assert count(env.url, "SELECT count(*) FROM events") == 20  # each (workflow, seq) once
    assert count(env.url, "SELECT count(*) FROM tasks WHERE workflow_id = 'wf-second'") == 3
    assert count(env.url, "SELECT count(*) FROM tasks WHERE workflow_id = 'wf-first'") == 3


@pytest.mark.slow
def test_undecodable_records_go_to_the_dead_letter_topic_and_the_projector_keeps_going(
    env: Env,
) -> None:
    history = happy_history("wf-after-garbage")
    support.produce(
        env.settings.kafka_bootstrap, env.topics.events, [("wf-after-garbage", b"not avro")]
    )
    produce_events(env, history)
    support.produce(
        env.settings.kafka_bootstrap,
        env.topics.definitions,
        [
            (
                definition_key("task", "reserve"),
                encode_definition(TaskDef(name="reserve"), registered_at=1, actor="api:t"),
            ),
            (
                definition_key("workflow", "order_flow", 2),
                encode_definition(DEFINITION, registered_at=2, actor="api:t"),
            ),
            (definition_key("task", "broken"), b"\x00garbage"),
        ],
    )
    process = start_projector(env)
    try:
        support.wait_until(
            lambda: status_of(env.url, "wf-after-garbage") == "COMPLETED", what="the workflow"
        )
        support.wait_until(
            lambda: count(env.url, "SELECT count(*) FROM definitions") == 2, what="definitions"
        )
    finally:
        stop(process)
    letters = read_all(env.settings.kafka_bootstrap, env.topics.dlq, expected=2)
    by_topic = {letter.topic: letter for letter in letters}
    assert by_topic[env.topics.events].value == b"not avro"
    assert by_topic[env.topics.events].offset == 0
    assert by_topic[env.topics.events].component == "projector"
    assert by_topic[env.topics.events].reason  # the codec's explanation
    assert by_topic[env.topics.definitions].key == b"task:broken"


def read_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-reader-{os.urandom(4).hex()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    letters = []
    try:
        support.wait_until(
            lambda: _collect(consumer, letters) >= expected, what=f"{expected} dead letters"
        )
    finally:
        consumer.close()
    return letters


def _collect(consumer: Consumer, into: list) -> int:
    for message in consumer.consume(100, 0.5):
        if message.error() is None:
            into.append(decode_dead_letter(message.value()))
    return len(into)


def test_offsets_are_keyed_by_the_consumer_group(env: Env) -> None:
    assert consumer_name(env.settings) == f"{env.settings.topic_prefix}-projector"
