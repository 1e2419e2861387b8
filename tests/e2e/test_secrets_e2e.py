"""Secrets end to end: `${workflow.secrets.API_TOKEN}` reaches the worker (and the HTTP
executor) resolved, and its value appears in no topic, no read-model table and no log line.

The processor, an SDK worker process (the e2e secret worker plus the built-in system
executors) and the projector (on a fresh Postgres schema) all run with
ORCHESTRATOR_SECRET_API_TOKEN set to a random 32-character value. After the workflow completed
and was projected, every record of every topic of the test's prefix (commands, events, task
topics, the processor's state changelog, rejections, dlq, faust's internal topics), every file
the subprocesses wrote and every row of every read-model table are scanned for the value.

The scan proves it can see: a random non-secret canary travels in the workflow input (and the
worker prints it), and the test requires the canary to be found in the commands, events and
changelog topics, the worker's log and the read-model tables.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.statuses import WorkflowStatus
from orchestrator.engine.statecodec import StateRecordError, decode_state
from orchestrator.kafka.admin import admin_client
from tests.e2e.e2e_defs import WORKERS_MODULE, simple, system, task_defs, workflow
from tests.e2e.e2e_http import http_server
from tests.e2e.e2e_support import (
    Stack,
    read_topic,
    scheduled,
    stack_for_module,
    start_process,
    the,
)
from tests.readmodel_support import create_schema, database_url, drop_schema, schema_url
from tests.runtime_support import kafka

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(180),
]

SECRET_ENV = "ORCHESTRATOR_SECRET_API_TOKEN"
PLACEHOLDER = "${workflow.secrets.API_TOKEN}"


def random_text(length: int = 32) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def secret_flow(http_url: str) -> dict[str, Any]:
    return workflow(
        "e2e_secrets",
        simple(
            "hash",
            "e2e_secret_hash",
            inputParameters={
                "token": PLACEHOLDER,
                "header": f"Bearer {PLACEHOLDER}",
                "logCanary": "${workflow.input.canary}",
            },
        ),
        system(
            "call",
            "HTTP",
            inputParameters={
                "http_request": {
                    "uri": f"{http_url}/echo",
                    "method": "POST",
                    "headers": {"X-E2E": f"Bearer {PLACEHOLDER}"},
                    "body": {"canary": "${workflow.input.canary}"},
                }
            },
        ),
        outputParameters={"hash": "${hash.output}", "echoed": "${call.output.response.body}"},
    )


def test_secret_is_resolved_at_hand_off_and_never_stored_or_logged(tmp_path: Path) -> None:
    secret, canary = random_text(), random_text()
    url = database_url()
    schema = create_schema(url)
    env = {SECRET_ENV: secret, "ORCHESTRATOR_HTTP_ALLOW_NETWORKS": "127.0.0.0/8"}
    try:
        with (
            http_server() as http,
            stack_for_module(
                tmp_path,
                workers=[f"{WORKERS_MODULE}:secret_hash"],
                system=True,
                definitions=task_defs(),
                env=env,
            ) as stack,
        ):
            projector_env = {**env, "ORCHESTRATOR_DATABASE_URL": schema_url(url, schema)}
            start_process(stack.rt, ["projector"], "projector", projector_env)
            wid = stack.start("secrets", secret_flow(http.url), {"canary": canary})
            stack.sender.flush()
            history = stack.finished("secrets")

            # The worker and the HTTP executor got the value; the events only the placeholder.
            assert the(history, ev.WorkflowCompleted).output == {
                "hash": {
                    "tokenSha256": sha256(secret),
                    "headerSha256": sha256(f"Bearer {secret}"),
                    "tokenLength": 32,
                    "unresolved": False,
                },
                # the server echoed the header back; the executor redacted it from its output
                "echoed": {
                    "received": {"canary": canary},
                    "header": "Bearer ***",
                    "method": "POST",
                },
            }
            assert [r["headers"]["X-E2E"] for r in http.requests] == [f"Bearer {secret}"]
            assert scheduled(history, "hash")[0].input["token"] == PLACEHOLDER

            wait_projected(schema_url(url, schema), wid)
            wait_changelog_has_final_state(stack, wid)
            found = scan_everything(stack, schema_url(url, schema), [secret, canary])
    finally:
        drop_schema(url, schema)

    prefix = stack.rt.prefix
    controls = {
        f"topic {prefix}.commands",
        f"topic {prefix}.events",
        f"topic {stack.rt.topics.state_changelog}",
        "file worker.log",
        "table workflows",
        "table events",
        "table tasks",
    }
    missing = controls - found[canary]
    assert not missing, f"the scan did not see the canary in {sorted(missing)}: it cannot see"
    assert not found[secret], f"the secret value leaked into {sorted(found[secret])}"


def wait_projected(db_url: str, wid: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            try:
                row = conn.execute(
                    "SELECT status FROM workflows WHERE workflow_id = %s", (wid,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:  # the projector has not migrated yet
                row = None
            if row is not None and row[0] == "COMPLETED":
                return
            time.sleep(0.2)
    raise AssertionError(f"workflow {wid} not projected as COMPLETED within {timeout_s} s")


def wait_changelog_has_final_state(stack: Stack, wid: str, timeout_s: float = 30.0) -> None:
    """Until the processor's state changelog holds the completed workflow (so its last write is in
    the scan)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for msg in read_topic(stack.rt.topics.state_changelog):
            if msg.key() == wid.encode() and msg.value():
                try:
                    state = decode_state(msg.value())
                except StateRecordError:
                    continue
                if state.status is WorkflowStatus.COMPLETED:
                    return
        time.sleep(0.3)
    raise AssertionError("the state changelog never held the completed workflow")


def scan_everything(stack: Stack, db_url: str, needles: list[str]) -> dict[str, set[str]]:
    """needle -> the places (topic, file, table) where it occurs."""
    found: dict[str, set[str]] = defaultdict(set)
    raw = [(n, n.encode()) for n in needles]
    topics = sorted(
        t
        for t in admin_client(kafka(), 10.0).list_topics(timeout=10).topics
        if t.startswith(stack.rt.prefix)
    )
    assert stack.rt.topics.state_changelog in topics and stack.rt.topics.rejections in topics
    for topic in topics:
        for msg in read_topic(topic):
            blobs = [msg.key() or b"", msg.value() or b""]
            blobs += [k.encode() + (v or b"") for k, v in msg.headers() or []]
            for needle, data in raw:
                if any(data in blob for blob in blobs):
                    found[needle].add(f"topic {topic}")
    for path in stack.rt.log_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for needle, data in raw:
                if data in content:
                    found[needle].add(f"file {path.relative_to(stack.rt.log_dir)}")
    with psycopg.connect(db_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ]
        assert {"workflows", "tasks", "events", "definitions"} <= set(tables)
        for table in tables:
            for needle, _ in raw:
                hit = conn.execute(
                    f'SELECT count(*) FROM "{table}" t WHERE strpos(lower(t::text), lower(%s)) > 0',
                    (needle,),
                ).fetchone()
                if hit and hit[0]:
                    found[needle].add(f"table {table}")
    return found
