"""The hand-written records of the wire contract: the two headers and the infrastructure
records (definitions, dead letters, rejections), which have no domain dataclass to generate
them from. Generated into schemas/ by scripts/gen_schemas.py with everything else."""

from __future__ import annotations

from typing import Any

from orchestrator.codec import wire_types as wt
from orchestrator.domain.outcome import RejectionCode

TIMESTAMP: dict[str, str] = {"type": "long", "logicalType": "timestamp-millis"}


def record(name: str, ns: str, doc: str, version: int, fields: list[Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": name,
        "namespace": ns,
        "doc": doc,
        "schema_version": version,
        "fields": fields,
    }


def _f(name: str, type_: Any, doc: str, **default: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **default, "doc": doc}


def _optional(name: str, type_: Any, doc: str) -> dict[str, Any]:
    return _f(name, ["null", type_], doc, default=None)


def header_schemas(versions: dict[str, int]) -> list[dict[str, Any]]:
    event = [
        _f(
            "event_id",
            "string",
            "<workflow_id>:<seq>: unique per event, identical for a "
            "re-emission after a crash, so consumers deduplicate on it.",
        ),
        _f("workflow_id", "string", "Id of the workflow execution the event is about."),
        _f(
            "root_workflow_id",
            "string",
            "Id of the root workflow of the tree: the Kafka key "
            "(equals workflow_id for a top-level workflow).",
        ),
        _f("seq", "long", "Per-workflow sequence number: 1-based, gap-free per workflow_id."),
        _f(
            "occurred_at",
            TIMESTAMP,
            "When it happened: the time carried by the command that caused it (epoch ms).",
        ),
        _f("actor", "string", "Who caused it: api:<caller>, worker:<id>, timer or engine."),
        _optional(
            "correlation_id",
            "string",
            "Tracing: the command_id of the command that "
            "caused the event, when its producer set one. Not Conductor's "
            "correlationId (that is WorkflowStarted.correlation_id).",
        ),
        _f(
            "schema_version",
            "int",
            "The schema_version attribute of the schema the record was written with.",
        ),
    ]
    command = [
        _optional(
            "command_id",
            "string",
            "Set by the producer for tracing; copied into the "
            "correlation_id of the events the command causes.",
        ),
        _f("workflow_id", "string", "Id of the workflow execution the command is for."),
        _f(
            "root_workflow_id",
            "string",
            "Id of the root workflow of the tree: the Kafka key. "
            '"" means the workflow is its own root (the key is then workflow_id).',
            default="",
        ),
        _f(
            "at",
            TIMESTAMP,
            "When the command was issued, set by its producer (epoch ms). "
            "The engine never reads a clock: this is the time of every event it causes.",
        ),
        _f("actor", "string", "Who issued it: api:<caller>, worker:<id>, timer or engine."),
    ]
    return [
        record(
            "EventHeader",
            wt.COMMON_NS,
            "Envelope of every event record.",
            versions.get(wt.EVENT_HEADER, 1),
            event,
        ),
        record(
            "CommandHeader",
            wt.COMMON_NS,
            "Envelope of every command record.",
            versions.get(wt.COMMAND_HEADER, 1),
            command,
        ),
    ]


def payload_schemas(versions: dict[str, int]) -> list[dict[str, Any]]:
    fields = [
        _f(
            "ref",
            "string",
            "Reference of the payload in the payload store: sha256: and the lower-case hex "
            "SHA-256 digest of its UTF-8 JSON text (content-addressed, so a re-emitted record "
            "references the same payload).",
        ),
        _f("size", "long", "Size of the payload's JSON text, bytes."),
    ]
    return [
        record(
            "ExternalPayload",
            wt.COMMON_NS,
            "A JSON value too large to travel in the record, stored in the payload store "
            "(ORCHESTRATOR_PAYLOAD_STORE_URL) and referenced here; the second branch of "
            "every JSON field (docs/adr/0011). Readers fetch the text by ref; an "
            "ExternalPayload is never user data.",
            versions.get(wt.EXTERNAL_PAYLOAD, 1),
            fields,
        )
    ]


def infra_schemas(versions: dict[str, int]) -> list[dict[str, Any]]:
    codes = ", ".join(c.value for c in RejectionCode)
    definition = [
        _f("kind", "string", "What the definition is. One of: workflow, task, event_handler."),
        _f("name", "string", "Name of the definition."),
        _optional(
            "version",
            "long",
            "Version of a workflow definition; null for a task "
            "definition (Conductor does not version TaskDefs).",
        ),
        _f(
            "definition",
            "string",
            "The definition in Conductor's JSON format (WorkflowDef, "
            "TaskDef or EventHandler by kind). JSON text.",
        ),
        _f("registered_at", TIMESTAMP, "When it was registered (epoch ms)."),
        _f("actor", "string", "Who registered it: api:<caller> or cli:<user>."),
    ]
    dead = [
        _f("topic", "string", "Topic the undecodable or unprocessable record came from."),
        _f("partition", "int", "Its partition."),
        _f("offset", "long", "Its offset."),
        _optional("key", "bytes", "Its key, byte for byte."),
        _optional("value", "bytes", "Its value, byte for byte (null for a tombstone)."),
        _f("reason", "string", "Why it could not be processed (the CodecError message)."),
        _f("failed_at", TIMESTAMP, "When it was set aside (epoch ms)."),
        _f(
            "component",
            "string",
            "Which component set it aside: processor, projector, worker:<id>, ...",
        ),
    ]
    rejection = [
        _f("header", wt.COMMAND_HEADER, "The header of the rejected command."),
        _f("command_type", "string", "Record name of the rejected command, e.g. StartWorkflow."),
        _f("code", "string", f"Why, as a stable code. One of: {codes}."),
        _f("reason", "string", "Why, for humans."),
        _f("rejected_at", TIMESTAMP, "When it was rejected: the command's own time (epoch ms)."),
    ]
    return [
        record(
            "DefinitionRecord",
            wt.DEFINITIONS_NS,
            "A registered definition on the "
            "compacted definitions topic, keyed workflow:<name>:<version>, task:<name> or "
            "event_handler:<name>. "
            "A deletion is a tombstone: that key with a null value (no Avro record).",
            versions.get(wt.DEFINITION_RECORD, 1),
            definition,
        ),
        record(
            "DeadLetter",
            wt.INFRA_NS,
            "A record the engine could not decode or process, "
            "set aside on the dead-letter topic with the reason.",
            versions.get(wt.DEAD_LETTER, 1),
            dead,
        ),
        record(
            "Rejection",
            wt.INFRA_NS,
            "A command the engine refused, with the reason "
            "(rejections are data, recorded on the rejections topic).",
            versions.get(wt.REJECTION, 1),
            rejection,
        ),
    ]
