"""Workflows started by a producer in "any language": the stock Confluent AvroSerializer against a
schema registry, read by a processor configured with the same registry (issue #19, part 4).

Real processes on the real broker and a real registry process of the test's own. Also: a
record with an unknown schema id is dead-lettered, and a registry outage is waited out (the
command is not lost and not dead-lettered).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from orchestrator.codec import get_codec, wire
from orchestrator.domain import events as ev
from orchestrator.kafka.aio import producer_config
from tests.e2e.test_processor_bad_input import read_dead_letters
from tests.e2e.test_processor_faults import TASKS, wait_until_ready
from tests.registry_support import RegistryProcess, apicurio, load_settings
from tests.runtime_support import EventLog, RawWorker, Runtime, kafka

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(240)]

START = "io.orchestrator.v1.commands.StartWorkflow"
DEFINITION = {
    "name": "registry_three_steps",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {
            "name": name,
            "taskReferenceName": f"step{i}",
            "type": "SIMPLE",
            "inputParameters": {"n": "${workflow.input.n}"},
            "taskDefinition": {"name": name, "responseTimeoutSeconds": 60},
        }
        for i, name in enumerate(TASKS)
    ],
}


@pytest.fixture
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryProcess]:
    """The tests' default registry (tests/registry_support.py), or the kind a test asks for."""
    kind = getattr(request, "param", None)
    if kind == "apicurio":  # the stack's real registry; built once per machine if missing
        apicurio.ensure_app(load_settings())
    with RegistryProcess(tmp_path, kind) as process:
        wire.set_default_registry(process.url)  # this test's own reader and RawWorker
        try:
            yield process
        finally:
            wire.set_default_registry(None)


def start_record(fields: set[str] | None = None) -> tuple[str, dict[str, Any]]:
    """A StartWorkflow as a producer writes it by hand from the .avsc: plain dicts, JSON text."""
    wid = str(uuid.uuid4())
    record = {
        "header": {
            "command_id": str(uuid.uuid4()),
            "workflow_id": wid,
            "root_workflow_id": wid,
            "at": int(time.time() * 1000),
            "actor": "app:any-language",
        },
        "name": DEFINITION["name"],
        "version": None,
        "definition": json.dumps(DEFINITION),
        "input": json.dumps({"n": 5}),
        "correlation_id": "stock-serializer",
    }
    return wid, {k: v for k, v in record.items() if fields is None or k in fields}


def stock_serializer(url: str, schema: dict[str, Any]) -> AvroSerializer:
    return AvroSerializer(SchemaRegistryClient({"url": url}), json.dumps(schema))


@pytest.mark.parametrize(
    "registry",
    [
        pytest.param(None, id="default"),
        # What the stack runs with ORCHESTRATOR_STACK_REGISTRY=1: Apicurio Registry (ADR 0013).
        pytest.param(
            "apicurio", id="apicurio", marks=pytest.mark.timeout(apicurio.MVN_TIMEOUT_S + 300)
        ),
    ],
    indirect=True,
)
def test_a_stock_serializer_starts_workflows_that_complete(
    runtime: Runtime, registry: RegistryProcess
) -> None:
    runtime.create_topics(TASKS)
    runtime.start_processor(env={"ORCHESTRATOR_SCHEMA_REGISTRY_URL": registry.url})
    wait_until_ready(runtime, "processor", 1, 60)
    schema = get_codec().schema(START)  # the self-contained schema of schemas/
    serialize = stock_serializer(registry.url, schema)
    ctx = SerializationContext(runtime.topics.commands, MessageField.VALUE)
    producer = Producer(producer_config(kafka()))  # murmur2: the processor's partitioning
    ids = set()
    for _ in range(3):
        wid, record = start_record()
        producer.produce(runtime.topics.commands, key=wid.encode(), value=serialize(record, ctx))
        ids.add(wid)
    unknown_id = b"\x00" + (987_654).to_bytes(4, "big") + b"\x02"
    producer.produce(runtime.topics.commands, key=b"unknown-id", value=unknown_id)
    assert producer.flush(15) == 0
    log = EventLog(runtime)
    try:
        with RawWorker(runtime, TASKS):
            assert not log.wait_completed(ids, 90), f"not completed; logs in {runtime.log_dir}"
        for wid in ids:
            started = log.history(wid)[0]
            assert isinstance(started, ev.WorkflowStarted)
            assert started.input == {"n": 5} and started.correlation_id == "stock-serializer"
        raw = [r for recs in log.records.values() for _, r in recs]
        assert raw and all(r[0] == 0 for r in raw)  # the processor writes Confluent's format
    finally:
        log.close()
    letters = read_dead_letters(runtime, 1, 30)
    assert [letter.key for letter in letters] == [b"unknown-id"]
    assert "schema id 987654" in letters[0].reason


def test_a_registry_outage_is_waited_out_not_dead_lettered(
    runtime: Runtime, registry: RegistryProcess
) -> None:
    runtime.create_topics(TASKS)
    runtime.start_processor(env={"ORCHESTRATOR_SCHEMA_REGISTRY_URL": registry.url})
    wait_until_ready(runtime, "processor", 1, 60)
    # A producer's own, slimmer schema: an id the processor has never seen, so it must ask.
    full = get_codec().schema(START)
    kept = {"header", "name", "definition", "input"}
    slim = dict(full, fields=[f for f in full["fields"] if f["name"] in kept])
    wid, record = start_record(kept)
    ctx = SerializationContext(runtime.topics.commands, MessageField.VALUE)
    value = stock_serializer(registry.url, slim)(record, ctx)  # registered while up
    registry.stop()
    producer = Producer(producer_config(kafka()))
    producer.produce(runtime.topics.commands, key=wid.encode(), value=value)
    assert producer.flush(15) == 0
    time.sleep(4)  # the processor meets the outage
    assert b"schema registry" in b"".join(
        p.read_bytes() for p in runtime.log_dir.glob("processor*")
    )
    registry.start()  # same port, same data: the id is known again
    log = EventLog(runtime)
    try:
        with RawWorker(runtime, TASKS):
            assert not log.wait_completed({wid}, 90), f"not completed; logs in {runtime.log_dir}"
    finally:
        log.close()
    assert read_dead_letters(runtime, 1, 3) == []
