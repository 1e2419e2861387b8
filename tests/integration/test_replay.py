"""Audit replay on the real stack: a real processor writes the log, the projector the read model,
and ``orchestrator replay --verify`` / ``orchestrator history`` (real CLI subprocesses) check
and show them.

The module's workflows run once (module fixture); the tests that corrupt the read model restore
it. The last test writes a conflicting event into the log for good, so it stays last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer

from orchestrator.codec.wire import decode_event, encode_event
from orchestrator.domain import events as ev
from orchestrator.domain import serde
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.replay import store
from orchestrator.replay.compare import compare_workflow
from orchestrator.replay.fold import fold
from orchestrator.replay.logread import LogReader
from orchestrator.settings import Settings
from projections.apply import Batch, LoggedEvent, Position, apply_batch
from projections.migrate import migrate
from projections.projector import Projector
from tests import readmodel_support as support
from tests.runtime_support import CommandSender, RawWorker, Runtime

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
TASKS = ("replay_a", "replay_b", "replay_c")
WORKFLOWS = 30


@dataclass
class Stack:
    url: str  # with search_path = the test's schema
    settings: Settings
    runtime: Runtime
    ids: list[str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", "--database-url", self.url, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.runtime.env(), "ORCHESTRATOR_LOG_LEVEL": "WARNING"},
            cwd=ROOT,
            check=False,
        )

    def verify(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "replay",
            "--verify",
            "--topic-prefix",
            self.runtime.prefix,
            "--wait-projector",
            "30",
            *args,
        )

    def sql(self, statement: str, *params: object) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement, params)


def definition():
    return parse_workflow_def(
        {
            "name": "replay_flow",
            "version": 1,
            "tasks": [
                {
                    "name": name,
                    "taskReferenceName": f"step{i}",
                    "inputParameters": {"n": "${workflow.input.n}"},
                }
                for i, name in enumerate(TASKS)
            ],
            "outputParameters": {"last": "${step2.output.done}"},
        }
    )


def _completed(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM workflows WHERE status = 'COMPLETED'").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    rt = Runtime(prefix=f"replay-{uuid.uuid4().hex[:10]}", log_dir=tmp_path_factory.mktemp("rt"))
    settings = support.settings_for(url, rt.prefix, partitions="4")
    rt.create_topics(TASKS)
    projector = Projector(settings)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        rt.start_processor()
        sender = CommandSender(rt)
        with RawWorker(rt, TASKS):
            ids = [sender.start(definition(), {"n": i}) for i in range(WORKFLOWS)]
            sender.flush()
            support.wait_until(
                lambda: _completed(url) == WORKFLOWS, 150, "every workflow completed"
            )
        yield Stack(url, settings, rt, ids)
    finally:
        rt.stop_all()
        projector.stop()
        thread.join(30)
        rt.delete_topics()
        support.drop_schema(base, schema)


def test_verify_passes_when_the_read_model_matches_the_log(stack: Stack) -> None:
    result = stack.verify()
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert f"{WORKFLOWS} workflows, {WORKFLOWS} compared" in summary
    assert "0 mismatches: OK" in summary and "events/s" in summary


def test_verify_names_the_workflow_and_field_of_a_corrupted_row(stack: Stack) -> None:
    victim = stack.ids[3]
    stack.sql("UPDATE workflows SET status = 'FAILED' WHERE workflow_id = %s", victim)
    try:
        result = stack.verify()
    finally:
        stack.sql("UPDATE workflows SET status = 'COMPLETED' WHERE workflow_id = %s", victim)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"MISMATCH workflow {victim} status: log=COMPLETED read-model=FAILED" in result.stdout
    assert "1 mismatches: PROBLEMS FOUND" in result.stdout


def test_verify_of_one_workflow_checks_its_tasks(stack: Stack) -> None:
    victim = stack.ids[5]
    assert stack.verify("--workflow", victim).returncode == 0
    stack.sql("UPDATE tasks SET retry_count = 9 WHERE workflow_id = %s AND ref = 'step1'", victim)
    try:
        result = stack.verify("--workflow", victim)
    finally:
        stack.sql(
            "UPDATE tasks SET retry_count = 0 WHERE workflow_id = %s AND ref = 'step1'", victim
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"MISMATCH workflow {victim} task step1" in result.stdout
    assert "retry_count: log=0 read-model=9" in result.stdout
    assert "1 workflows, 1 compared" in result.stdout


def test_history_prints_the_timeline_from_the_read_model_and_from_the_log(stack: Stack) -> None:
    wid = stack.ids[0]
    from_db = stack.cli("history", wid)
    from_log = stack.cli("history", wid, "--from-log", "--topic-prefix", stack.runtime.prefix)
    assert from_db.returncode == 0 and from_log.returncode == 0, from_db.stderr + from_log.stderr
    lines = from_db.stdout.splitlines()
    assert "WorkflowStarted" in lines[0] and "replay_flow v1" in lines[0]
    assert any("step1 COMPLETED" in line and "worker:raw" in line for line in lines)
    assert "WorkflowCompleted" in lines[-1]
    # The log shows the same timeline (plus the causing command's id when the sender set one).
    assert [line.split(" cmd=")[0] for line in from_log.stdout.splitlines()] == lines
    assert stack.cli("history", "no-such-workflow").returncode == 1


def _raw_records(stack: Stack, wid: str) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of every record of one workflow's events, in log order."""
    reader = LogReader(stack.settings, stack.runtime.topics.events)
    try:
        return [
            (r.partition, r.key, r.value)
            for r in reader.records()
            if r.value is not None and decode_event(r.value).workflow_id == wid
        ]
    finally:
        reader.close()


def test_duplicate_identical_event_is_clean_and_a_conflicting_one_is_flagged(
    stack: Stack,
) -> None:
    wid = stack.ids[7]
    records = _raw_records(stack, wid)
    partition, key, value = records[4]  # an event in the middle of its history
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap})
    producer.produce(stack.runtime.topics.events, key=key, value=value, partition=partition)
    assert producer.flush(15) == 0
    clean = stack.verify()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 identical re-emissions dropped" in clean.stdout

    original = decode_event(value)
    forged_data = {**serde.to_jsonable(original), "actor": "worker:forger"}
    forged = serde.event_from_jsonable(forged_data)
    producer.produce(
        stack.runtime.topics.events, key=key, value=encode_event(forged), partition=partition
    )
    assert producer.flush(15) == 0
    flagged = stack.verify()
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert f"CONFLICT workflow {wid} seq {original.seq}" in flagged.stdout
    assert "1 conflicts" in flagged.stdout


# --- the projector and the fold agree on every golden history (Postgres only) -----------------

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.json")) + sorted(
    (ROOT / "tests" / "golden" / "legacy").glob("*.json")  # histories of older rules too
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    yield url
    support.drop_schema(base, schema)


def test_projected_golden_histories_match_their_fold(pg_url: str) -> None:
    """Every event type the engine writes, projected by the real projector, folds to its rows."""
    found = []
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for path in GOLDEN:  # one at a time: golden files reuse workflow and task ids
            events = [serde.event_from_jsonable(e) for e in json.loads(path.read_text())["events"]]
            by_workflow: dict[str, list[ev.Event]] = {}
            for event in events:
                by_workflow.setdefault(event.workflow_id, []).append(event)
            logged = [LoggedEvent(e, "t.events", 0, i) for i, e in enumerate(events)]
            apply_batch(conn, Batch(logged, [], [Position("t.events", 0, len(events))]), "c")
            rows, tasks, sizes = store.rows_of(conn, list(by_workflow))
            for wid, history in by_workflow.items():
                folded = fold(history)
                assert folded is not None
                found += [
                    f"{path.stem}: {m}"
                    for m in compare_workflow(
                        folded, rows.get(wid), tasks.get(wid, []), sizes.get(wid)
                    )
                ]
            conn.execute("TRUNCATE workflows, tasks, events, projector_offsets")
    assert found == []


def test_cli_refuses_replay_without_verify() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "replay"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 2 and "only --verify" in result.stderr
