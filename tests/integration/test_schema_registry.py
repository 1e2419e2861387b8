"""The codec with a schema registry: it registers its schemas (record-name strategy), writes the
Confluent wire format, reads both formats, resolves a producer's own schema, and tells an
unknown id (CodecError: a dead letter) from an outage (SchemaRegistryUnavailable: transient).

Against a real registry process (tests/registry_support.py), never a mock.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from orchestrator.codec import Codec, CodecError
from orchestrator.codec.registry import SchemaRegistry, SchemaRegistryUnavailable
from orchestrator.codec.wire import Wire
from orchestrator.domain.commands import StartWorkflow
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.settings import PROJECT_SCHEMAS_DIR
from tests.registry_support import RegistryProcess

START = "io.orchestrator.v1.commands.StartWorkflow"


@pytest.fixture
def schema_registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    with RegistryProcess(tmp_path) as registry:
        yield registry


def codec_of(registry: RegistryProcess | None) -> Codec:
    """A fresh codec (no ids cached) on the project's schemas/."""
    client = SchemaRegistry.from_url(registry.url) if registry is not None else None
    return Codec.from_folder(PROJECT_SCHEMAS_DIR, client)


def start_command() -> StartWorkflow:
    wid = str(uuid.uuid4())
    return StartWorkflow(
        workflow_id=wid, at=1_700_000_000_000, actor="app:test", name="flow", input={"n": 2}
    )


def start_record(wid: str) -> dict[str, object]:
    return {
        "header": {
            "command_id": "c-1",
            "workflow_id": wid,
            "root_workflow_id": wid,
            "at": 1_700_000_000_000,
            "actor": "app:java",
        },
        "name": "flow",
        "version": None,
        "input": json.dumps({"n": 3}),
        "correlation_id": "corr-1",
    }


def test_writes_confluent_framing_and_registers_one_subject_per_record_type(
    schema_registry: RegistryProcess,
) -> None:
    codec = codec_of(schema_registry)
    cmd = start_command()
    data = Wire(codec).encode_command(cmd)
    subjects = httpx.get(f"{schema_registry.url}/subjects").json()
    assert START in subjects  # record-name strategy: the subject is the record's full name
    latest = httpx.get(f"{schema_registry.url}/subjects/{START}/versions/latest").json()
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == latest["id"]
    assert json.loads(latest["schema"]) == codec.schema(START)  # self-contained
    # every record type at once (what each process does at start), idempotently
    ids = codec.register_all()
    assert ids[START] == latest["id"] and codec_of(schema_registry).register_all() == ids
    assert set(httpx.get(f"{schema_registry.url}/subjects").json()) == set(codec.names())


def test_reads_both_formats_with_a_registry_and_single_object_without(
    schema_registry: RegistryProcess,
) -> None:
    cmd = start_command()
    confluent = Wire(codec_of(schema_registry)).encode_command(cmd)
    single = Wire(codec_of(None)).encode_command(cmd)
    assert single[:2] == b"\xc3\x01"
    reader = Wire(codec_of(schema_registry))  # knows no id yet: asks the registry
    assert reader.decode_command(confluent) == cmd
    assert reader.decode_command(single) == cmd
    with pytest.raises(CodecError, match="no schema registry is configured"):
        Wire(codec_of(None)).decode_command(confluent)


def test_the_stock_confluent_serializer_and_deserializer_interoperate(
    schema_registry: RegistryProcess,
) -> None:
    """What a Java/Go/.NET producer does: its own serializer, the default (topic) strategy."""
    codec = codec_of(schema_registry)
    client = SchemaRegistryClient({"url": schema_registry.url})
    serializer = AvroSerializer(client, json.dumps(codec.schema(START)))
    wid = str(uuid.uuid4())
    ctx = SerializationContext("orders.commands", MessageField.VALUE)
    data = serializer(start_record(wid), ctx)
    assert data[0] == 0
    cmd = Wire(codec).decode_command(data)
    assert isinstance(cmd, StartWorkflow) and cmd.workflow_id == wid and cmd.input == {"n": 3}
    # and ours read by theirs
    ours = Wire(codec).encode_command(start_command())
    theirs = AvroDeserializer(client)(ours, ctx)
    assert theirs["name"] == "flow" and json.loads(theirs["input"]) == {"n": 2}


def test_a_producers_own_schema_of_our_record_is_resolved_to_the_current_one(
    schema_registry: RegistryProcess,
) -> None:
    """A producer that left out optional fields: read with today's schema, defaults filled."""
    codec = codec_of(schema_registry)
    full = codec.schema(START)
    kept = {"header", "name", "input"}
    slim = dict(full, fields=[f for f in full["fields"] if f["name"] in kept])
    client = SchemaRegistryClient({"url": schema_registry.url})
    serializer = AvroSerializer(client, json.dumps(slim))
    wid = str(uuid.uuid4())
    record = {k: v for k, v in start_record(wid).items() if k in kept}
    data = serializer(record, SerializationContext("t", MessageField.VALUE))
    cmd = Wire(codec).decode_command(data)
    assert isinstance(cmd, StartWorkflow)
    assert (cmd.workflow_id, cmd.version, cmd.correlation_id) == (wid, None, None)


def test_unknown_ids_and_foreign_records_are_codec_errors(
    schema_registry: RegistryProcess,
) -> None:
    codec = codec_of(schema_registry)
    with pytest.raises(CodecError, match="schema id 4242"):
        codec.decode(b"\x00" + (4242).to_bytes(4, "big") + b"\x02")
    other = {
        "type": "record",
        "name": "com.example.Order",
        "fields": [{"name": "a", "type": "long"}],
    }
    client = SchemaRegistryClient({"url": schema_registry.url})
    data = AvroSerializer(client, json.dumps(other))(
        {"a": 1}, SerializationContext("t", MessageField.VALUE)
    )
    with pytest.raises(CodecError, match=r"com\.example\.Order, not a record type of schemas/"):
        codec.decode(data)
    with pytest.raises(CodecError, match="not Avro single-object encoding"):
        codec.decode(b"\x01garbage")


def test_an_outage_is_transient_and_ids_survive_a_restart(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path) as registry:
        ids = codec_of(registry).register_all()
        data = Wire(codec_of(registry)).encode_command(start_command())
        registry.stop()
        reader = codec_of(registry)
        began = time.monotonic()
        with pytest.raises(SchemaRegistryUnavailable) as caught:
            reader.decode(data)
        assert isinstance(caught.value, PayloadUnavailable)  # every consumer waits it out
        assert time.monotonic() - began < 15
        with pytest.raises(SchemaRegistryUnavailable):
            codec_of(registry).encode(START, {"header": {}, "name": "x"})
        registry.start()  # same data file: same ids, nothing renumbered
        assert codec_of(registry).register_all() == ids
        assert reader.decode(data)[0] == START


def test_a_schema_with_references_to_our_subjects_is_read(
    schema_registry: RegistryProcess,
) -> None:
    """A producer that registers StartWorkflow.avsc as it is, referencing the header and payload
    types by the subjects we register (record-name strategy): read like the self-contained one."""
    from confluent_kafka.schema_registry import Schema, SchemaReference

    codec = codec_of(schema_registry)
    ids = codec.register_all()
    assert ids
    common = (
        "io.orchestrator.v1.common.CommandHeader",
        "io.orchestrator.v1.common.ExternalPayload",
    )
    refs = [SchemaReference(name, name, 1) for name in common]
    text = (PROJECT_SCHEMAS_DIR / "commands" / "StartWorkflow.avsc").read_text()
    client = SchemaRegistryClient({"url": schema_registry.url})
    serializer = AvroSerializer(client, Schema(text, "AVRO", refs))
    wid = str(uuid.uuid4())
    data = serializer(start_record(wid), SerializationContext("t", MessageField.VALUE))
    schema_id = int.from_bytes(data[1:5], "big")
    assert schema_id != ids[START]  # registered with its references, not our self-contained text
    cmd = Wire(codec_of(schema_registry)).decode_command(data)
    assert isinstance(cmd, StartWorkflow) and cmd.workflow_id == wid
    assert cmd.correlation_id == "corr-1" and cmd.input == {"n": 3}
