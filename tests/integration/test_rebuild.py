"""`orchestrator projections rebuild` on real Postgres and Kafka, with the projector and the API
running: corrupted rows come back equal to a fresh projection, the API reads the new tables
after the switch, the live projector goes on in them, API-owned tables survive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.codec.wire import encode_definition, encode_event
from orchestrator.domain.definitions import TaskDef
from orchestrator.kafka.topics import TopicNames, definition_key
from orchestrator.settings import Settings
from projections.migrate import available_migrations, migrate
from projections.rebuild import RebuildError, rebuild
from tests import readmodel_support as support
from tests.auth_support import authed
from tests.readmodel_fixtures import DEFINITION, happy_history

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EVENTS_PER_WORKFLOW = 10  # happy_history


@dataclass
class Env:
    base: str  # the database URL without a search_path
    schema: str
    url: str  # with search_path = the test's schema: the "live" read model
    settings: Settings
    topics: TopicNames


@pytest.fixture
def env() -> Iterator[Env]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    settings = support.settings_for(url, f"test-rebuild-{os.urandom(5).hex()}", partitions="2")
    topics = support.create_topics(settings)
    yield Env(base, schema, url, settings, topics)
    support.remove_topics(settings)
    with psycopg.connect(base, autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{schema}_old_%",)
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    support.drop_schema(base, schema)


def produce_workflows(env: Env, ids: list[str], pause_s: float = 0.0) -> None:
    for wid in ids:
        support.produce(
            env.settings.kafka_bootstrap,
            env.topics.events,
            [(wid, encode_event(e)) for e in happy_history(wid)],
        )
        time.sleep(pause_s)


def produce_definitions(env: Env) -> None:
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
        ],
    )


def start_projector(env: Env) -> subprocess.Popen[str]:
    child_env = {
        **os.environ,
        "ORCHESTRATOR_DATABASE_URL": env.url,
        "ORCHESTRATOR_KAFKA_BOOTSTRAP": env.settings.kafka_bootstrap,
        "ORCHESTRATOR_TOPIC_PREFIX": env.settings.topic_prefix,
        "ORCHESTRATOR_PARTITIONS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "projector"],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_rebuild_cli(env: Env, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--database-url", env.url, "--topic-prefix",
         env.settings.topic_prefix, "projections", "rebuild", *args],
        cwd=ROOT, env={**os.environ, "ORCHESTRATOR_KAFKA_BOOTSTRAP": env.settings.kafka_bootstrap},
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def scalar(url: str, query: str, *params: object) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def snapshot(url: str, ids: list[str]) -> dict[str, list[tuple]]:
    """The projected rows of these workflows, and the definitions."""
    queries = {
        "workflows": "SELECT * FROM workflows WHERE workflow_id = ANY(%s) ORDER BY workflow_id",
        "tasks": "SELECT * FROM tasks WHERE workflow_id = ANY(%s) ORDER BY task_id",
        "events": "SELECT * FROM events WHERE workflow_id = ANY(%s) ORDER BY workflow_id, seq",
        "definitions": "SELECT * FROM definitions WHERE %s::text[] IS NOT NULL "
        "ORDER BY kind, name, version",
    }
    with psycopg.connect(url, autocommit=True) as conn:
        return {table: conn.execute(q, (ids,)).fetchall() for table, q in queries.items()}


def corrupt(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE workflows SET status = 'FAILED' WHERE workflow_id = 'wf-0'")
        conn.execute("DELETE FROM workflows WHERE workflow_id IN ('wf-1', 'wf-2')")
        conn.execute("DELETE FROM tasks WHERE workflow_id = 'wf-3'")
        conn.execute("DELETE FROM events WHERE workflow_id = 'wf-4' AND seq > 5")
        conn.execute("DELETE FROM definitions WHERE kind = 'task'")
        # Owned by the API, not projected: must survive the rebuild as it is.
        conn.execute("INSERT INTO workflow_removals VALUES ('wf-5', 123, 'api:tester')")


def status(client: TestClient, wid: str) -> int | str:
    response = client.get(f"/api/workflow/{wid}")
    return response.json()["status"] if response.status_code == 200 else response.status_code


def test_rebuild_restores_corrupted_rows_while_projector_and_api_run(env: Env) -> None:
    first = [f"wf-{i}" for i in range(12)]
    during = [f"wf-during-{i}" for i in range(30)]
    produce_definitions(env)
    produce_workflows(env, first)
    projector = start_projector(env)
    try:
        support.wait_until(
            lambda: scalar(env.url, "SELECT count(*) FROM events") == 12 * EVENTS_PER_WORKFLOW,
            what="the first projection",
        )
        fresh = snapshot(env.url, first)
        with authed(TestClient(create_app(env.settings)), env.settings) as client:
            for _ in range(8):  # past psycopg's prepare threshold: prepared statements too
                assert status(client, "wf-0") == "COMPLETED"
            corrupt(env.url)
            assert status(client, "wf-0") == "FAILED" and status(client, "wf-1") == 404

            # New events keep arriving (and being projected) while the rebuild runs.
            writer = threading.Thread(target=produce_workflows, args=(env, during, 0.1))
            writer.start()
            output = run_rebuild_cli(env, "--drop-old")
            writer.join(30)

            assert "events/s" in output and "previous dropped" in output
            assert status(client, "wf-0") == "COMPLETED" and status(client, "wf-1") == "COMPLETED"
        assert snapshot(env.url, first) == fresh
        total = (len(first) + len(during)) * EVENTS_PER_WORKFLOW
        support.wait_until(
            lambda: scalar(env.url, "SELECT count(*) FROM events") == total,
            what="the live projector to go on in the new schema",
        )
        assert scalar(
            env.url, "SELECT count(*) FROM workflows WHERE status = 'COMPLETED' AND last_seq = 10"
        ) == len(first) + len(during)
        assert scalar(env.url, "SELECT actor FROM workflow_removals") == "api:tester"
        assert scalar(env.base, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
                      f"{env.schema}_old_%") == 0  # fmt: skip
    finally:
        projector.terminate()
        projector.wait(30)


def test_rebuild_keeps_the_previous_tables_unless_asked_to_drop_them(env: Env) -> None:
    produce_definitions(env)
    produce_workflows(env, ["wf-0", "wf-1"])
    messages: list[str] = []
    # No projector runs: the rebuild projects the whole log itself.
    result = rebuild(env.settings, report=messages.append)

    assert result.live == env.schema and result.old is not None
    assert result.events == 2 * EVENTS_PER_WORKFLOW
    assert scalar(env.url, "SELECT count(*) FROM workflows WHERE status = 'COMPLETED'") == 2
    old_url = support.schema_url(env.base, result.old)
    assert scalar(old_url, "SELECT count(*) FROM workflows") == 0  # the old, empty model
    # The live projector would resume after the rebuilt events, from the new schema's offsets.
    assert scalar(env.url, "SELECT sum(next_offset) FROM projector_offsets WHERE topic = %s",
                  env.topics.events) == 2 * EVENTS_PER_WORKFLOW  # fmt: skip
    assert any(m.startswith("rebuild: switched") for m in messages)


def test_failed_rebuild_leaves_the_live_schema_untouched(env: Env) -> None:
    produce_workflows(env, ["wf-0"])
    broken = support.settings_for(env.url, "test-rebuild-no-such-topics")
    messages: list[str] = []
    with pytest.raises(RuntimeError, match="does not exist"):
        rebuild(broken, report=messages.append)
    new = messages[0].split("schema ")[1].split(" ")[0]
    assert new.startswith("readmodel_")
    assert scalar(env.base, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", new) == 0
    assert scalar(env.url, "SELECT count(*) FROM schema_migrations") == len(available_migrations())


def test_refuses_a_schema_without_a_read_model(env: Env) -> None:
    empty = support.create_schema(env.base)
    try:
        settings = support.settings_for(support.schema_url(env.base, empty), "unused")
        with pytest.raises(RebuildError, match="holds no read model"):
            rebuild(settings)
    finally:
        support.drop_schema(env.base, empty)
