"""The projector and large payloads, on real Postgres and Kafka: events whose payloads are in the
payload store are projected with their full values; while the store cannot be reached the
projector waits (nothing skipped, nothing dead-lettered) and goes on once it is back; an event it
can decode but not write (a value its row cannot hold) is set aside alone, not its batch."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from orchestrator.codec import get_codec
from orchestrator.codec.wire import Wire
from orchestrator.domain import events as ev
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.store import MemoryPayloadStore
from orchestrator.settings import Settings
from projections.migrate import migrate
from projections.projector import Projector
from tests import readmodel_support as support
from tests.e2e.large_payload_stack import read_topic
from tests.readmodel_fixtures import DEFINITION, happy_history

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def deployment() -> Iterator[tuple[str, Settings]]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    settings = support.settings_for(url, f"test-projpl-{os.urandom(5).hex()}", partitions="1")
    support.create_topics(settings)
    yield url, settings
    support.remove_topics(settings)
    support.drop_schema(base, schema)


def started(workflow_id: str, workflow_input: dict[str, str]) -> ev.WorkflowStarted:
    return ev.WorkflowStarted(
        workflow_id=workflow_id, root_workflow_id=workflow_id, seq=1, at=1_700_000_000_000,
        actor="api:t", definition=DEFINITION, input=workflow_input,
    )  # fmt: skip


def row_input(url: str, workflow_id: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT input FROM workflows WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    return None if row is None else row[0]


def test_the_projector_waits_out_a_payload_store_outage_and_projects_full_values(
    deployment, caplog: pytest.LogCaptureFixture
):
    url, settings = deployment
    caplog.set_level(logging.INFO, "projections.projector")
    store = MemoryPayloadStore()
    wire = Wire(get_codec(), Payloads(store, PayloadPolicy.defaults()))
    big = {"blob": "b" * 300_000}
    data = wire.encode_event(started("wf-big", big))
    assert len(data) < 2_000  # the input is in the store
    store.fail = "connection refused"
    topics = support.create_topics(settings)
    support.produce(settings.kafka_bootstrap, topics.events, [("wf-big", data)])
    projector = Projector(settings, wire=wire)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        support.wait_until(lambda: "connection refused" in caplog.text, 30, "a store failure")
        time.sleep(3)  # more attempts against the unreachable store
        assert row_input(url, "wf-big") is None
        outage = [r for r in caplog.records if "connection refused" in r.getMessage()]
        assert len(outage) == 1 and "logged once" in outage[0].getMessage()
        assert projector.lag() >= 0 and thread.is_alive()
        store.fail = None
        support.wait_until(lambda: row_input(url, "wf-big") == big, 30, "the projected row")
        assert "payload store back after" in caplog.text
    finally:
        projector.stop()
        thread.join(30)
    letters = [v for v in read_topic(topics.dlq, time.monotonic() + 5, idle=2) if v]
    assert letters == []  # an outage is no reason to set a record aside


def test_an_event_whose_rows_cannot_be_written_is_set_aside_and_the_batch_goes_on(deployment):
    url, settings = deployment
    wire = Wire(get_codec())
    before, after = happy_history("wf-before"), happy_history("wf-after")
    scheduled = before[1]
    assert isinstance(scheduled, ev.TaskScheduled)
    unwritable = dataclasses.replace(scheduled, seq=11, retry_count=2**40)  # an integer column
    bad = wire.encode_event(unwritable)
    topics = support.create_topics(settings)
    records = [(e.workflow_id, wire.encode_event(e)) for e in before]
    records += [("wf-before", bad)] + [(e.workflow_id, wire.encode_event(e)) for e in after]
    support.produce(settings.kafka_bootstrap, topics.events, records)
    projector = Projector(settings, wire=wire)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        support.wait_until(lambda: status(url, "wf-after") == "COMPLETED", 60, "wf-after")
    finally:
        projector.stop()
        thread.join(30)
    assert status(url, "wf-before") == "COMPLETED"
    letters = [
        get_codec_wire().decode_dead_letter(v)
        for v in read_topic(topics.dlq, time.monotonic() + 10, idle=2)
        if v
    ]
    assert [(d.value, d.component) for d in letters] == [(bad, "projector")]
    assert "cannot project" in letters[0].reason and "out of range" in letters[0].reason


def get_codec_wire() -> Wire:
    return Wire(get_codec())


def status(url: str, workflow_id: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status FROM workflows WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    return None if row is None else row[0]
