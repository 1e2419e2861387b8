"""Schema evolution: records written with every previous schema version under schemas/history/
still decode with today's schemas, and a producer with nothing but the committed .avsc files and
plain fastavro (as a user in another language would) writes records the project reads."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import expand_schema, fingerprint, to_parsing_canonical_form

from orchestrator.codec import Codec, get_codec, wire
from orchestrator.codec.schemas import load_folder
from orchestrator.codec.wire_types import COMMANDS, DISPATCH, EVENTS, Kind, WireType
from orchestrator.domain.commands import ReportTaskResult, StartWorkflow
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.events import TaskCompleted
from orchestrator.domain.statuses import TaskStatus
from orchestrator.settings import PROJECT_SCHEMAS_DIR

ROOT = PROJECT_SCHEMAS_DIR
HISTORY = load_folder(ROOT).history
BY_NAME: dict[str, WireType] = {t.full_name: t for t in (*COMMANDS, *EVENTS, DISPATCH)}
_SAMPLE: dict[Kind, Any] = {
    Kind.STRING: "s-é",
    Kind.LONG: 7,
    Kind.TIMESTAMP: 1_763_700_000_000,
    Kind.BOOLEAN: True,
    Kind.DOUBLE: 0.5,
    Kind.JSON: {"k": [1, "v"]},
    Kind.STRING_ARRAY: ("line",),
    Kind.STRING_MAP: {"task": "domain"},
    Kind.WORKFLOW_DEF: WorkflowDef(
        name="flow", tasks=(WorkflowTask(name="a", task_reference_name="a"),)
    ),
    Kind.TASK_DEF: TaskDef(name="a"),
    Kind.WORKFLOW_TASK: WorkflowTask(name="a", task_reference_name="a"),
}


def sample(t: WireType) -> Any:
    """An instance of ``t`` with every field set."""
    base = {"workflow_id": "wf-1", "root_workflow_id": "wf-1", "seq": 3, "at": 1_000, "actor": "a"}
    names = {f.name for f in dataclasses.fields(t.cls)}
    own = {f.name: next(iter(f.enum)) if f.enum else _SAMPLE[f.kind] for f in t.fields}
    return t.cls(**{k: v for k, v in base.items() if k in names and k not in own}, **own)


def test_history_keeps_a_believable_previous_task_completed() -> None:
    old = [h for h in HISTORY if h.full_name.endswith(".TaskCompleted")]
    assert [h.version for h in old] == [1, 2, 3]
    assert "logs" not in [f["name"] for f in old[0].schema["fields"]]
    assert "started_at" not in [f["name"] for f in old[1].schema["fields"]]
    output = {f["name"]: f for f in old[2].schema["fields"]}["output"]
    assert output["type"] == "string"  # before payloads could be in the payload store (ADR 0011)
    assert get_codec(ROOT).schema("io.orchestrator.v1.events.TaskCompleted")["schema_version"] == 4


def test_task_completed_written_as_v1_reads_with_logs_defaulted() -> None:
    codec = get_codec(ROOT)
    header = {
        "event_id": "wf-1:4", "workflow_id": "wf-1", "root_workflow_id": "wf-1", "seq": 4,
        "occurred_at": 1_700_000_000_000, "actor": "worker:w1", "correlation_id": None,
        "schema_version": 1,
    }  # fmt: skip
    record = {"header": header, "task_id": "t-1", "output": '{"ok": true}', "worker_id": "w1"}
    data = codec.encode("io.orchestrator.v1.events.TaskCompleted", record, version=1)
    assert data[2:10] != codec.fingerprint("io.orchestrator.v1.events.TaskCompleted")
    envelope = wire.decode_event_envelope(data)
    assert envelope.event == TaskCompleted(
        workflow_id="wf-1", root_workflow_id="wf-1", seq=4, at=1_700_000_000_000,
        actor="worker:w1", task_id="t-1", output={"ok": True}, logs=(), worker_id="w1",
    )  # fmt: skip
    assert envelope.schema_version == 1


@pytest.mark.parametrize("old", HISTORY, ids=lambda h: f"{h.full_name}/v{h.version}")
def test_every_previous_version_decodes_with_the_current_schema(old: Any) -> None:
    """Take a full current instance, write what the old schema has of it with the old schema,
    read it back: fields the old version lacked come back at their Python defaults."""
    t = BY_NAME[old.full_name]
    current = sample(t)
    encoded = _encode(t, current)
    _, record = get_codec(ROOT).decode(encoded)
    old_names = {f["name"] for f in old.schema["fields"]}
    missing = {f.name for f in t.fields if f.name not in old_names}
    for f in t.fields:
        assert f.name not in missing or f.has_default, (
            f"{t.name}.{f.name} is not in v{old.version} and has no default: old records "
            f"cannot be read (add a default)"
        )
    written = {k: v for k, v in record.items() if k in old_names}
    data = get_codec(ROOT).encode(old.full_name, written, version=old.version)
    expected = dataclasses.replace(
        current, **{f.name: f.default for f in t.fields if f.name in missing}
    )
    assert wire.decode_any(data) == expected


def _encode(t: WireType, value: Any) -> bytes:
    if t in COMMANDS:
        return wire.encode_command(value)
    if t in EVENTS:
        return wire.encode_event(value)
    return wire.encode_dispatch(value)


# -- a producer with only the committed files and plain fastavro -------------------------


def _plain_schema(*files: str) -> dict[str, Any]:
    named: dict[str, Any] = {}
    schema: Any = None
    for name in files:
        schema = parse_schema(json.loads((ROOT / name).read_text(encoding="utf-8")), named)
    return expand_schema(schema)


def _plain_encode(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    canonical = to_parsing_canonical_form(schema)
    out = io.BytesIO()
    out.write(b"\xc3\x01" + bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))
    schemaless_writer(out, parse_schema(schema), record)
    return out.getvalue()


def test_a_worker_in_another_language_reports_a_result_the_engine_reads() -> None:
    schema = _plain_schema(
        "common/CommandHeader.avsc", "common/ExternalPayload.avsc", "commands/ReportTaskResult.avsc"
    )
    record = {
        "header": {"command_id": None, "workflow_id": "wf-9", "root_workflow_id": "",
                   "at": 1_763_700_000_000, "actor": "worker:go-1"},
        "task_id": "t-9", "status": "FAILED", "output": '{"error": "disk full", "n": 12345678901234567890123}',
        "reason": "disk full", "logs": ["retrying", "gave up"], "callback_after_seconds": 0,
        "worker_id": "go-1",
    }  # fmt: skip
    assert wire.decode_command(_plain_encode(schema, record)) == ReportTaskResult(
        workflow_id="wf-9", at=1_763_700_000_000, actor="worker:go-1", task_id="t-9",
        status=TaskStatus.FAILED, output={"error": "disk full", "n": 12345678901234567890123},
        reason="disk full", logs=("retrying", "gave up"), worker_id="go-1",
    )  # fmt: skip


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- example: start-workflow -->\s*```python\n(.*?)```\s*<!-- end example -->", text, re.S
    )
    assert match, "schemas/README.md lost its start-workflow example"
    return match.group(1)


def test_the_readme_example_starts_a_workflow_the_engine_reads() -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    source = _readme_example().replace('Path("schemas")', repr(str(ROOT)).join(("Path(", ")")))
    exec(compile(source, "schemas/README.md", "exec"), namespace)
    workflow_id, value = namespace["start_workflow"](
        "order_fulfillment", {"orderId": "o-1", "qty": 2}, correlation_id="order-o-1"
    )
    command, command_id = wire.decode_command_envelope(value)
    assert isinstance(command, StartWorkflow)
    assert command == StartWorkflow(
        workflow_id=workflow_id, root_workflow_id=workflow_id, at=command.at,
        actor="app:billing", name="order_fulfillment", input={"orderId": "o-1", "qty": 2},
        correlation_id="order-o-1",
    )  # fmt: skip
    assert command_id is not None
    assert command.at > 1_700_000_000_000


# -- the generator keeps the previous version when asked ---------------------------------


def _gen_schemas() -> Any:
    path = ROOT.parent / "scripts" / "gen_schemas.py"
    spec = importlib.util.spec_from_file_location("gen_schemas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_snapshot_keeps_the_released_version_self_contained_and_readable(tmp_path: Path) -> None:
    """Simulate a release whose TaskPickedUp had a field since removed and lacked worker_id:
    regenerating with --snapshot must keep it under history/ and bump schema_version."""
    root = tmp_path / "schemas"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns("README.md"))
    released = json.loads((root / "events/TaskPickedUp.avsc").read_text(encoding="utf-8"))
    note = {"name": "note", "type": "string", "default": "", "doc": "A field since removed."}
    released["fields"] = [*released["fields"][:-1], note]
    (root / "events/TaskPickedUp.avsc").write_text(json.dumps(released), encoding="utf-8")
    old = get_codec(root)
    old_bytes = old.encode(
        "io.orchestrator.v1.events.TaskPickedUp",
        {"header": _header(), "task_id": "t-1", "note": "x"},
    )

    assert _gen_schemas().main(["--root", str(root), "--snapshot"]) == 0

    kept = json.loads(
        (root / "history/io.orchestrator.v1.events.TaskPickedUp/v1.avsc").read_text(
            encoding="utf-8"
        )
    )
    assert kept["fields"][0]["type"]["name"].endswith("EventHeader")  # inlined, not a reference
    assert json.loads((root / "events/TaskPickedUp.avsc").read_text())["schema_version"] == 2
    assert _gen_schemas().main(["--root", str(root), "--check"]) == 0
    name, record = Codec.from_folder(root).decode(old_bytes)
    assert name == "io.orchestrator.v1.events.TaskPickedUp"
    assert (record["task_id"], record["worker_id"]) == ("t-1", None)  # the new field defaulted
    assert "note" not in record


def _header() -> dict[str, Any]:
    return {
        "event_id": "w:1", "workflow_id": "w", "root_workflow_id": "w", "seq": 1,
        "occurred_at": 0, "actor": "engine", "correlation_id": None, "schema_version": 1,
    }  # fmt: skip
