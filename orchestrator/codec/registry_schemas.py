"""A writer schema that came from the registry, parsed once, as the codec's LoadedSchema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from orchestrator.codec.schemas import CodecError, LoadedSchema


def foreign_schema(schema_id: int, text: str, references: list[Any]) -> LoadedSchema:
    """The record schema ``text`` (registry id ``schema_id``) with its CRC-64-AVRO fingerprint,
    by which the codec recognises one of its own schemas."""
    if references:
        names = ", ".join(str(getattr(r, "name", r)) for r in references)
        raise CodecError(
            f"schema id {schema_id} uses schema references ({names}); register the record "
            f"self-contained (every named type defined inline), as the .avsc files expand to"
        )
    try:
        schema = json.loads(text)
        parsed = parse_schema(schema, {})
        canonical = to_parsing_canonical_form(schema)
    except Exception as exc:  # fastavro raises several kinds on a bad schema
        raise CodecError(f"schema id {schema_id}: not a usable Avro schema: {exc}") from None
    if not isinstance(parsed, dict) or parsed.get("type") not in ("record", "error"):
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
