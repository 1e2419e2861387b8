"""A writer schema that came from the registry, parsed once, as the codec's LoadedSchema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from orchestrator.codec.schemas import CodecError, LoadedSchema

if TYPE_CHECKING:
    from orchestrator.codec.registry import SchemaRegistry

MAX_REFERENCES = 100  # named types a schema may pull in through references


def foreign_schema(registry: SchemaRegistry, schema_id: int) -> LoadedSchema:
    """The record schema of registry id ``schema_id``, self-contained (its schema references
    fetched and inlined), with its CRC-64-AVRO fingerprint, by which the codec recognises one
    of its own schemas."""
    text, references = registry.schema_of(schema_id)
    named: dict[str, Any] = {}
    _load_references(registry, schema_id, references, named, set())
    try:
        schema = parse_schema(json.loads(text), dict(named), expand=True, _write_hint=False)
        parsed = parse_schema(schema, {})
        canonical = to_parsing_canonical_form(schema)
    except Exception as exc:  # fastavro raises several kinds on a bad schema
        raise CodecError(f"schema id {schema_id}: not a usable Avro schema: {exc}") from None
    if not isinstance(schema, dict) or not isinstance(parsed, dict):
        raise CodecError(f"schema id {schema_id}: not an Avro record schema")
    if parsed.get("type") not in ("record", "error"):
        raise CodecError(f"schema id {schema_id}: not an Avro record schema")
    return LoadedSchema(
        full_name=str(parsed["name"]),
        version=None,
        source=Path(f"registry:id={schema_id}"),
        schema=schema,
        parsed=parsed,
        canonical=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


def _load_references(
    registry: SchemaRegistry,
    schema_id: int,
    references: list[Any],
    named: dict[str, Any],
    seen: set[tuple[str, int]],
) -> None:
    """The named types of ``references`` (and theirs, depth first) parsed into ``named``."""
    for ref in references:
        key = (str(ref.subject), int(ref.version))
        if key in seen:
            continue
        if len(seen) >= MAX_REFERENCES:
            raise CodecError(f"schema id {schema_id}: more than {MAX_REFERENCES} references")
        seen.add(key)
        text, nested = registry.version_of(*key)
        _load_references(registry, schema_id, nested, named, seen)
        try:
            parse_schema(json.loads(text), named, _write_hint=False)
        except Exception as exc:
            raise CodecError(
                f"schema id {schema_id}: reference {key[0]} v{key[1]} is not a usable schema: {exc}"
            ) from None
