"""Generate the Avro schemas of the wire contract from the domain dataclasses.

`generate(root)` returns {relative path: schema} for every file under schemas/ except history;
`render(schema)` is the exact text committed. scripts/gen_schemas.py writes them, and
tests/unit/test_schema_sync.py fails when the committed files differ from what this produces.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson

from orchestrator.codec import wire_types as wt
from orchestrator.codec.wire_docs import field_comments, field_doc, record_doc
from orchestrator.codec.wire_fixed import (
    TIMESTAMP,
    header_schemas,
    infra_schemas,
    payload_schemas,
    record,
)
from orchestrator.codec.wire_types import Kind, WireField, WireType

_FOLDERS = {
    wt.COMMON_NS: "common",
    wt.COMMANDS_NS: "commands",
    wt.EVENTS_NS: "events",
    wt.TASKS_NS: "tasks",
    wt.DEFINITIONS_NS: "definitions",
    wt.INFRA_NS: "infra",
}
_HISTORY_FILE = re.compile(r"v(\d+)\.avsc")
_PLAIN: dict[Kind, Any] = {
    Kind.STRING: "string",
    Kind.LONG: "long",
    Kind.TIMESTAMP: TIMESTAMP,
    Kind.BOOLEAN: "boolean",
    Kind.DOUBLE: "double",
    # JSON text, or a reference to the payload in the payload store (docs/adr/0011)
    Kind.JSON: ["string", wt.EXTERNAL_PAYLOAD],
    Kind.ENUM: "string",
    Kind.STRING_ARRAY: {"type": "array", "items": "string"},
    Kind.STRING_MAP: {"type": "map", "values": "string"},
    Kind.WORKFLOW_DEF: "string",
    Kind.TASK_DEF: "string",
    Kind.WORKFLOW_TASK: "string",
}
_KIND_NOTES = {
    Kind.JSON: "JSON text, or an ExternalPayload when the value is in the payload store.",
    Kind.TIMESTAMP: "Epoch milliseconds.",
    Kind.WORKFLOW_DEF: "JSON text (Conductor WorkflowDef).",
    Kind.TASK_DEF: "JSON text (Conductor TaskDef).",
    Kind.WORKFLOW_TASK: "JSON text (Conductor WorkflowTask).",
}


def avro_type(f: WireField) -> Any:
    base = _PLAIN[f.kind]
    if not f.optional:
        return base
    # Avro takes a union's default from its first branch.
    return [base, "null"] if f.has_default and f.default is not None else ["null", base]


def avro_default(f: WireField) -> Any:
    value = f.default
    if value is None and f.kind is not Kind.JSON:
        return None
    if f.kind is Kind.JSON:
        return orjson.dumps(value).decode()
    if f.kind is Kind.ENUM:
        return str(value.value)
    if f.kind is Kind.STRING_ARRAY:
        return list(value)
    if f.kind in wt.DEFINITION_KINDS:
        raise TypeError(f"{f.name}: a definition field can only default to None")
    return value


def _doc(record: str, f: WireField, comments: dict[str, str]) -> str:
    doc = field_doc(record, f.name, comments.get(f.name))
    if doc is None:
        # Never block catching up with the domain: a missing doc gets a visible placeholder.
        doc = f"{f.name.replace('_', ' ').capitalize()} (undocumented: add a comment on the field)."
    notes = [doc]
    if f.kind is Kind.ENUM and f.enum is not None:
        notes.append("One of: " + ", ".join(m.value for m in f.enum) + ".")
    if f.kind in _KIND_NOTES and _KIND_NOTES[f.kind] not in doc:
        notes.append(_KIND_NOTES[f.kind])
    return " ".join(notes)


def field_schema(record: str, f: WireField, comments: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": avro_type(f)}
    if f.has_default:
        out["default"] = avro_default(f)
    out["doc"] = _doc(record, f, comments)
    return out


def record_schema(t: WireType, version: int) -> dict[str, Any]:
    comments = field_comments(t.cls)
    fields: list[dict[str, Any]] = []
    if t.header == wt.EVENT_HEADER:
        fields.append({"name": "header", "type": t.header, "doc": "The common event envelope."})
    elif t.header == wt.COMMAND_HEADER:
        fields.append({"name": "header", "type": t.header, "doc": "The common command envelope."})
    fields += [field_schema(t.name, f, comments) for f in t.fields]
    return record(t.name, t.namespace, record_doc(t.cls), version, fields)


def history_versions(root: Path) -> dict[str, int]:
    """Name -> current version: 1 + the highest vN kept under history/<Name>/ (the folder is
    the record's full name, or its short name as the codec also accepts)."""
    out: dict[str, int] = {}
    folder = root / "history"
    for path in folder.glob("*/*.avsc") if folder.is_dir() else ():
        match = _HISTORY_FILE.fullmatch(path.name)
        if match:
            out[path.parent.name] = max(out.get(path.parent.name, 1), int(match.group(1)) + 1)
    return out


def generate(root: Path) -> dict[Path, dict[str, Any]]:
    kept = history_versions(root)
    versions = {
        t: kept.get(t, kept.get(t.rpartition(".")[2], 1))
        for t in (
            *(d.full_name for d in wt.DOMAIN_TYPES),
            wt.EVENT_HEADER,
            wt.COMMAND_HEADER,
            wt.EXTERNAL_PAYLOAD,
            wt.DEFINITION_RECORD,
            wt.DEAD_LETTER,
            wt.REJECTION,
        )
    }
    schemas = [
        *header_schemas(versions),
        *payload_schemas(versions),
        *(record_schema(t, versions.get(t.full_name, 1)) for t in wt.DOMAIN_TYPES),
        *infra_schemas(versions),
    ]
    return {Path(_FOLDERS[s["namespace"]]) / f"{s['name']}.avsc": s for s in schemas}


_TYPE_KEYS = (
    "type",
    "name",
    "namespace",
    "aliases",
    "doc",
    "schema_version",
    "fields",
    "items",
    "values",
    "logicalType",
    "symbols",
    "default",
)
_FIELD_KEYS = ("name", "aliases", "type", "default", "doc")


def tidy(schema: Any, *, field: bool = False) -> Any:
    """``schema`` with the keys of every object in the conventional order (for history files,
    which are written from fastavro's parsed form)."""
    if isinstance(schema, list):
        return [tidy(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    order = _FIELD_KEYS if field else _TYPE_KEYS
    keys = sorted(schema, key=lambda k: (order.index(k) if k in order else len(order), k))
    out: dict[str, Any] = {}
    for k in keys:
        value = schema[k]
        if k == "fields":
            out[k] = [tidy(f, field=True) for f in value]
        elif k in ("type", "items", "values"):
            out[k] = tidy(value)
        else:
            out[k] = value
    return out


def render(schema: dict[str, Any]) -> str:
    """Stable text: the record's attributes on their own lines, one line per field."""
    head = {k: v for k, v in schema.items() if k != "fields"}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "fields": [')
    body = [f"    {json.dumps(f, ensure_ascii=False)}" for f in schema.get("fields", [])]
    lines.append(",\n".join(body))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
