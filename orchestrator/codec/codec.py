"""Avro encoding of the project's records; the only code that calls fastavro.

Wire formats: Avro single-object encoding (Avro specification), the default::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | body

and, with a schema registry (``registry``: ``ORCHESTRATOR_SCHEMA_REGISTRY_URL``), Confluent's::

    00 | schema id (4 bytes, big-endian) | body

A codec with a registry writes Confluent's format; every codec reads both (Confluent's only
with a registry to look ids up in: ``registry.py``).

Decoding finds the writer schema by fingerprint, current or historical, and resolves the body
to the *current* schema of the same name (or the one that lists it in ``aliases``), so a record
written before a schema change reads as today's shape with new fields at their defaults.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from orchestrator.codec import avro_fast
from orchestrator.codec.registry import CONFLUENT_HEADER_LENGTH, CONFLUENT_MAGIC, SchemaRegistry
from orchestrator.codec.registry_schemas import foreign_schema
from orchestrator.codec.schemas import CodecError, LoadedSchema, SchemaSet, load_folder
from orchestrator.settings import PROJECT_SCHEMAS_DIR

MARKER = b"\xc3\x01"
HEADER_LENGTH = len(MARKER) + 8
_UNBUILT: Any = object()  # a fast path not generated yet (None: the schema has none)


@dataclass(frozen=True, slots=True)
class _Reader:
    writer: LoadedSchema
    name: str  # the current full name the record is read as
    reader_parsed: dict[str, Any] | None  # None: writer is the current schema, no resolution


class Codec:
    """Encode and decode records by schema name. Build once and share: it is immutable.

    Records of the current schemas go through code generated per schema (``avro_fast``, about
    twice as fast as fastavro); what that code does not handle (an invalid record, a corrupt
    body, a history writer schema) goes through fastavro, which gives the precise error."""

    def __init__(
        self, schemas: SchemaSet, *, fast: bool = True, registry: SchemaRegistry | None = None
    ) -> None:
        # Generated encoders/decoders (avro_fast) for the current schemas, built on first use;
        # fast=False: fastavro only (to compare against).
        self._fast = fast
        self._encoders: dict[str, avro_fast.Encoder | None] = {}  # by the name as given
        self._decoders: dict[bytes, avro_fast.Decoder | None] = {}  # by fingerprint
        self._current = schemas.current
        self._short = _unique_short_names(schemas.current)
        self._versions = {(s.full_name, s.version): s for s in schemas.history}
        self._readers: dict[bytes, _Reader] = {}
        self._aliases = schemas.aliases
        self.registry = registry
        self._ids: dict[str, int] = {}  # full name -> registry id of its current schema
        self._by_id: dict[int, tuple[bytes, _Reader]] = {}  # registry id -> (fingerprint, reader)
        for loaded in schemas.current.values():
            self._add_reader(_Reader(loaded, loaded.full_name, None))
        for old in schemas.history:
            name = (
                old.full_name if old.full_name in self._current else schemas.aliases[old.full_name]
            )
            target = self._current[name]
            if old.fingerprint != target.fingerprint:
                self._add_reader(_Reader(old, name, target.parsed))

    @classmethod
    def from_folder(cls, root: Path | str, registry: SchemaRegistry | None = None) -> Codec:
        return cls(load_folder(Path(root)), registry=registry)

    def register_all(self) -> dict[str, int]:
        """Every current record type registered (or found) in the registry: full name -> id."""
        return {name: self.schema_id(name) for name in self.names()}

    def schema_id(self, name: str) -> int:
        """The registry id of the current schema of ``name`` (registered on first use)."""
        writer = self._lookup(name)
        found = self._ids.get(writer.full_name)
        if found is None:
            if self.registry is None:
                raise CodecError("no schema registry configured (ORCHESTRATOR_SCHEMA_REGISTRY_URL)")
            found = self.registry.id_for(writer.full_name, writer.schema)
            self._ids[writer.full_name] = found
            self._by_id[found] = (writer.fingerprint, self._readers[writer.fingerprint])
        return found

    def _prefix(self, writer: LoadedSchema) -> bytes:
        if self.registry is None:
            return MARKER + writer.fingerprint
        return bytes((CONFLUENT_MAGIC,)) + self.schema_id(writer.full_name).to_bytes(4, "big")

    def names(self) -> tuple[str, ...]:
        """Full names of every record type that can be encoded."""
        return tuple(sorted(self._current))

    def schema(self, name: str) -> dict[str, Any]:
        """The current self-contained JSON schema of ``name`` (full or unique short name)."""
        return self._lookup(name).schema

    def fingerprint(self, name: str) -> bytes:
        """The 8 fingerprint bytes of the current schema of ``name``, as written on the wire."""
        return self._lookup(name).fingerprint

    def encode(self, name: str, record: dict[str, Any], *, version: int | None = None) -> bytes:
        """``record`` written with the current schema, or with history version ``version``."""
        if version is None and self._fast:
            fast: avro_fast.Encoder | None = self._encoders.get(name, _UNBUILT)
            if fast is _UNBUILT:
                fast = self._fast_encoder(name)
            if fast is not None:
                try:
                    return fast(record)
                except Exception:  # anything unusual: fastavro below decides, or gives the error
                    pass
        writer = self._lookup(name)
        if version is not None:  # a previous version (tests of evolution): single-object always
            writer = self._old(writer.full_name, version)
            prefix = MARKER + writer.fingerprint
        else:
            prefix = self._prefix(writer)
        out = io.BytesIO()
        out.write(prefix)
        try:
            # strict_allow_default: a misspelt field is an error, not silently dropped; a missing one is
            # allowed only when the schema gives it a default.
            schemaless_writer(out, writer.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            raise CodecError(f"cannot encode {writer.full_name}: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(current full name, record) of a single-object or Confluent-framed record."""
        if len(data) >= HEADER_LENGTH and data[:2] == MARKER:
            key = bytes(data[2:HEADER_LENGTH])
            reader = self._readers.get(key)
            if reader is None:
                raise CodecError(
                    f"unknown schema fingerprint {key.hex()}: written with a schema that is "
                    f"neither current nor kept under schemas/history"
                )
            return self._read(data, key, reader, HEADER_LENGTH)
        if len(data) >= CONFLUENT_HEADER_LENGTH and data[0] == CONFLUENT_MAGIC:
            key, reader = self._confluent(int.from_bytes(data[1:CONFLUENT_HEADER_LENGTH], "big"))
            return self._read(data, key, reader, CONFLUENT_HEADER_LENGTH)
        raise CodecError(
            f"not Avro single-object encoding (expected marker c301 and an 8-byte fingerprint) "
            f"nor the Confluent wire format (magic byte 00 and a 4-byte schema id): got "
            f"{bytes(data[:HEADER_LENGTH]).hex() or 'nothing'}"
        )

    def _read(
        self, data: bytes, key: bytes, reader: _Reader, start: int
    ) -> tuple[str, dict[str, Any]]:
        if reader.reader_parsed is None and self._fast:
            fast_read: avro_fast.Decoder | None = self._decoders.get(key, _UNBUILT)
            if fast_read is _UNBUILT:
                fast_read = avro_fast.compile_decoder(reader.writer.parsed)
                self._decoders[key] = fast_read
            if fast_read is not None:
                try:
                    return reader.name, fast_read(bytes(data), start)
                except Exception:  # anything unusual: fastavro below decides, or gives the error
                    pass
        body = io.BytesIO(data)
        body.seek(start)
        try:
            record = schemaless_reader(body, reader.writer.parsed, reader.reader_parsed)
        except Exception as exc:  # fastavro raises many kinds on a corrupt body
            raise CodecError(
                f"cannot decode {reader.writer.full_name}: truncated or corrupt body ({exc!r})"
            ) from exc
        if body.tell() != len(data):
            raise CodecError(
                f"cannot decode {reader.writer.full_name}: "
                f"{len(data) - body.tell()} bytes left after the record"
            )
        return reader.name, record  # type: ignore[return-value]

    def _confluent(self, schema_id: int) -> tuple[bytes, _Reader]:
        """(fingerprint, reader) of a registry id: one of our schemas (by fingerprint), or a
        producer's own schema of one of our record types, resolved to the current one."""
        found = self._by_id.get(schema_id)
        if found is not None:
            return found
        if self.registry is None:
            raise CodecError(
                f"Confluent wire format (schema id {schema_id}) but no schema registry is "
                f"configured to look the id up (ORCHESTRATOR_SCHEMA_REGISTRY_URL)"
            )
        writer = foreign_schema(self.registry, schema_id)
        reader = self._readers.get(writer.fingerprint)
        if reader is None:
            name = writer.full_name
            name = name if name in self._current else self._aliases.get(name, "")
            if not name:
                raise CodecError(
                    f"schema id {schema_id} is a {writer.full_name}, not a record type of "
                    f"schemas/ (known: {', '.join(self.names())})"
                )
            reader = _Reader(writer, name, self._current[name].parsed)
        self._by_id[schema_id] = (writer.fingerprint, reader)
        return writer.fingerprint, reader

    def _lookup(self, name: str) -> LoadedSchema:
        found = self._current.get(name) or self._current.get(self._short.get(name, ""))
        if found is None:
            raise CodecError(f"no schema named {name!r} (known: {', '.join(self.names())})")
        return found

    def _fast_encoder(self, name: str) -> avro_fast.Encoder | None:
        writer = self._lookup(name)
        fast = avro_fast.compile_encoder(writer.parsed, self._prefix(writer))
        self._encoders[name] = fast
        return fast

    def _old(self, full_name: str, version: int) -> LoadedSchema:
        found = self._versions.get((full_name, version))
        if found is None:
            raise CodecError(f"no schemas/history/{full_name}/v{version}.avsc")
        return found

    def _add_reader(self, reader: _Reader) -> None:
        clash = self._readers.get(reader.writer.fingerprint)
        if clash is not None and clash.writer.canonical != reader.writer.canonical:
            raise CodecError(
                f"fingerprint collision between {clash.writer.source} and {reader.writer.source}"
            )
        self._readers.setdefault(reader.writer.fingerprint, reader)


def _unique_short_names(current: dict[str, LoadedSchema]) -> dict[str, str]:
    counts: dict[str, list[str]] = {}
    for full in current:
        counts.setdefault(full.rpartition(".")[2], []).append(full)
    return {short: fulls[0] for short, fulls in counts.items() if len(fulls) == 1}


@functools.cache
def _cached(root: Path, registry_url: str | None) -> Codec:
    registry = SchemaRegistry.from_url(registry_url) if registry_url else None
    return Codec.from_folder(root, registry)


def get_codec(schemas_dir: Path | str | None = None, registry_url: str | None = None) -> Codec:
    """The codec of ``schemas_dir`` (default: the project's schemas/) with the schema registry
    at ``registry_url`` (None: single-object encoding), loaded once per folder and URL."""
    return _cached(Path(schemas_dir or PROJECT_SCHEMAS_DIR).resolve(), registry_url)
