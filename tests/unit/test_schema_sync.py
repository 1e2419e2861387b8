"""The committed schemas/ match the domain's Python types, field for field.

Two independent checks: (1) the committed files are exactly what scripts/gen_schemas.py
generates from the dataclasses today; (2) a mapping written out here, independently of the
generator, says every dataclass field has a schema field of a compatible type and vice versa.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from orchestrator.codec import get_codec
from orchestrator.codec.wire_gen import generate, render
from orchestrator.domain.commands import COMMAND_TYPES, CommandBase
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.events import EVENT_TYPES, EventBase
from orchestrator.settings import PROJECT_SCHEMAS_DIR

ROOT = PROJECT_SCHEMAS_DIR
FIX = "run `.venv/bin/python scripts/gen_schemas.py` and commit the schemas/ it writes"
NS = "io.orchestrator.v1"
TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}
EVENT_HEADER_FOR = {"workflow_id": "workflow_id", "root_workflow_id": "root_workflow_id",
                    "seq": "seq", "at": "occurred_at", "actor": "actor"}  # fmt: skip
COMMAND_HEADER_FOR = {"workflow_id": "workflow_id", "root_workflow_id": "root_workflow_id",
                      "at": "at", "actor": "actor"}  # fmt: skip
DOMAIN = [
    *((c, f"{NS}.commands.{c.__name__}", CommandBase) for c in COMMAND_TYPES),
    *((e, f"{NS}.events.{e.__name__}", EventBase) for e in EVENT_TYPES),
    (DispatchTask, f"{NS}.tasks.TaskDispatch", None),
]


def test_committed_schemas_are_what_the_generator_makes() -> None:
    stale = [
        str(rel)
        for rel, schema in generate(ROOT).items()
        if not (ROOT / rel).exists() or (ROOT / rel).read_text(encoding="utf-8") != render(schema)
    ]
    assert not stale, f"schemas out of date with the domain: {', '.join(stale)}; {FIX}"


def test_no_schema_file_is_left_without_a_python_type() -> None:
    expected = set(generate(ROOT))
    extra = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.avsc")
        if "history" not in p.relative_to(ROOT).parts and p.relative_to(ROOT) not in expected
    ]
    assert not extra, f"schemas with no Python type: {extra}; delete them or restore the type"


def test_every_command_event_and_dispatch_type_has_a_schema() -> None:
    names = set(get_codec(ROOT).names())
    missing = [full for _, full, _ in DOMAIN if full not in names]
    assert not missing, f"no schema for {missing}; {FIX}"


def expected_avro(annotation: Any, name: str) -> Any:
    """The Avro type the contract promises for a Python annotation (ADR 0004), written out
    independently of orchestrator/codec/wire_types.py."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        if inner is Any:
            return JSON_FIELD
        return ["null", expected_avro(inner, name)]
    if annotation is int:
        return TIMESTAMP if name in ("at", "due_at", "scheduled_time") else "long"
    if annotation is Any:
        return JSON_FIELD
    plain = {str: "string", bool: "boolean", float: "double"}
    if annotation in plain:
        return plain[annotation]
    if annotation in (WorkflowDef, TaskDef, WorkflowTask):
        return "string"
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "string"
    if annotation == tuple[str, ...]:
        return {"type": "array", "items": "string"}
    if annotation == dict[str, str]:
        return {"type": "map", "values": "string"}
    raise AssertionError(f"{name}: {annotation!r} has no mapping in the wire contract")


# A JSON value: its text, or a reference to it in the payload store (ADR 0011). The expanded
# schema defines ExternalPayload at its first use and names it afterwards.
EXTERNAL_PAYLOAD = "io.orchestrator.v1.common.ExternalPayload"
JSON_FIELD = ["string", EXTERNAL_PAYLOAD]


def _named(avro_type: Any) -> Any:
    """``avro_type`` with an inlined ExternalPayload replaced by its name."""
    if isinstance(avro_type, list):
        return [_named(t) for t in avro_type]
    if isinstance(avro_type, dict) and avro_type.get("name") == EXTERNAL_PAYLOAD:
        return EXTERNAL_PAYLOAD
    return avro_type


def _schema(full_name: str) -> dict[str, Any]:
    return get_codec(ROOT).schema(full_name)


@pytest.mark.parametrize(
    ("cls", "full_name", "base"), DOMAIN, ids=lambda x: getattr(x, "__name__", "")
)
def test_schema_fields_match_dataclass_fields(cls: type, full_name: str, base: type | None) -> None:
    schema = _schema(full_name)
    avro = {f["name"]: f for f in schema["fields"]}
    hints = typing.get_type_hints(cls)
    base_names = {f.name for f in dataclasses.fields(base)} if base else set()
    own = [f for f in dataclasses.fields(cls) if f.name not in base_names]
    expected_names = (["header"] if base else []) + [f.name for f in own]
    assert list(avro) == expected_names, (
        f"{full_name}: schema fields {list(avro)} != Python fields {expected_names}; {FIX}"
    )
    for f in own:
        got = _named(json.loads(json.dumps(avro[f.name]["type"])))
        want = expected_avro(hints[f.name], f.name)
        if (
            want is not JSON_FIELD
            and isinstance(want, list)
            and f.default
            not in (
                None,
                dataclasses.MISSING,
            )
        ):
            want = want[::-1]  # a non-null default puts its branch first
        assert got == want, f"{full_name}.{f.name}: schema type {got} != {want}; {FIX}"


@pytest.mark.parametrize(
    ("cls", "full_name", "base"), DOMAIN[:-1], ids=lambda x: getattr(x, "__name__", "")
)
def test_header_carries_every_base_field(cls: type, full_name: str, base: type) -> None:
    header = _schema(full_name)["fields"][0]["type"]
    mapping = EVENT_HEADER_FOR if base is EventBase else COMMAND_HEADER_FOR
    assert {f.name for f in dataclasses.fields(base)} == set(mapping)
    header_fields = {f["name"] for f in header["fields"]}
    assert set(mapping.values()) <= header_fields, f"{header['name']} lacks {mapping}"


@pytest.mark.parametrize(
    ("cls", "full_name", "base"), DOMAIN, ids=lambda x: getattr(x, "__name__", "")
)
def test_python_defaults_are_the_schema_defaults(cls: type, full_name: str, base: Any) -> None:
    avro = {f["name"]: f for f in _schema(full_name)["fields"]}
    for f in dataclasses.fields(cls):
        if f.name not in avro:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert "default" not in avro[f.name], f"{full_name}.{f.name} is required in Python"
            continue
        value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if typing.get_type_hints(cls)[f.name] is Any:
            value = json.dumps(value)  # JSON fields default to JSON text
        elif isinstance(value, tuple):
            value = list(value)
        assert avro[f.name].get("default", "<none>") == value, f"{full_name}.{f.name}; {FIX}"


def _all_fields(schema: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(schema, list):
        return [x for branch in schema for x in _all_fields(branch, where)]
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return []
    out = []
    for f in schema["fields"]:
        out.append((f"{schema['name']}.{f['name']}", f))
        out += _all_fields(f["type"], where)
    return out


def test_every_field_of_every_schema_has_a_doc() -> None:
    codec = get_codec(ROOT)
    undocumented = sorted(
        {
            name
            for full in codec.names()
            for name, f in _all_fields(codec.schema(full), full)
            if not f.get("doc", "").strip() or "undocumented" in f["doc"]
        }
    )
    assert not undocumented, (
        f"fields without a doc: {undocumented}; add an entry to orchestrator/codec/wire_docs.py "
        f"or a comment on the dataclass field, then {FIX}"
    )


@pytest.mark.parametrize(
    ("cls", "full_name", "base"), DOMAIN, ids=lambda x: getattr(x, "__name__", "")
)
def test_status_and_kind_fields_list_their_allowed_values(
    cls: type, full_name: str, base: Any
) -> None:
    avro = {f["name"]: f for f in _schema(full_name)["fields"]}
    for name, hint in typing.get_type_hints(cls).items():
        inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        if isinstance(inner[0], type) and issubclass(inner[0], StrEnum) and name in avro:
            missing = [m.value for m in inner[0] if m.value not in avro[name]["doc"]]
            assert not missing, f"{full_name}.{name} doc does not list {missing}; {FIX}"


def test_schema_files_live_in_the_folder_of_their_namespace() -> None:
    for path in Path(ROOT).rglob("*.avsc"):
        if "history" in path.parts:
            continue
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["namespace"] == f"{NS}.{path.parent.name}", path
        assert path.stem == schema["name"], path
