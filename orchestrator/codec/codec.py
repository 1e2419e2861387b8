"""Avro single-object encoding of the project's records; the only code that calls fastavro.

Wire format (Avro specification, "Single-object encoding")::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | body

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

    def __init__(self, schemas: SchemaSet, *, fast: bool = True) -> None:
        # Generated encoders/decoders (avro_fast) for the current schemas, built on first use;
        # fast=False: fastavro only (to compare against).
        self._fast = fast
        self._encoders: dict[str, avro_fast.Encoder | None] = {}  # by the name as given
        self._decoders: dict[bytes, avro_fast.Decoder | None] = {}  # by fingerprint
        self._current = schemas.current
        self._short = _unique_short_names(schemas.current)
        self._versions = {(s.full_name, s.version): s for s in schemas.history}
        self._readers: dict[bytes, _Reader] = {}
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
    def from_folder(cls, root: Path | str) -> Codec:
        return cls(load_folder(Path(root)))

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
        if version is not None:
            writer = self._old(writer.full_name, version)
        out = io.BytesIO()
        out.write(MARKER)
        out.write(writer.fingerprint)
        try:
            # strict_allow_default: a misspelt field is an error, not silently dropped; a missing one is
            # allowed only when the schema gives it a default.
            schemaless_writer(out, writer.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            raise CodecError(f"cannot encode {writer.full_name}: {exc}") from exc
        return out.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(current full name, record) of a single-object encoded record."""
        if len(data) < HEADER_LENGTH or data[:2] != MARKER:
            raise CodecError(
                f"not Avro single-object encoding: expected marker c301 and an 8-byte "
                f"fingerprint, got {bytes(data[:HEADER_LENGTH]).hex() or 'nothing'}"
            )
        key = bytes(data[2:HEADER_LENGTH])
        reader = self._readers.get(key)
        if reader is None:
            raise CodecError(
                f"unknown schema fingerprint {key.hex()}: written with a schema that is "
                f"neither current nor kept under schemas/history"
            )
        if reader.reader_parsed is None and self._fast:
            fast_read: avro_fast.Decoder | None = self._decoders.get(key, _UNBUILT)
            if fast_read is _UNBUILT:
                fast_read = avro_fast.compile_decoder(reader.writer.parsed)
                self._decoders[key] = fast_read
            if fast_read is not None:
                try:
                    return reader.name, fast_read(bytes(data), HEADER_LENGTH)
                except Exception:  # anything unusual: fastavro below decides, or gives the error
                    pass
        body = io.BytesIO(data)
        body.seek(HEADER_LENGTH)
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

    def _lookup(self, name: str) -> LoadedSchema:
        found = self._current.get(name) or self._current.get(self._short.get(name, ""))
        if found is None:
            raise CodecError(f"no schema named {name!r} (known: {', '.join(self.names())})")
        return found

    def _fast_encoder(self, name: str) -> avro_fast.Encoder | None:
        writer = self._lookup(name)
        fast = avro_fast.compile_encoder(writer.parsed, MARKER + writer.fingerprint)
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
def _cached(root: Path) -> Codec:
    return Codec.from_folder(root)


def get_codec(schemas_dir: Path | str | None = None) -> Codec:
    """The codec of ``schemas_dir`` (default: the project's schemas/), loaded once per folder."""
    return _cached(Path(schemas_dir or PROJECT_SCHEMAS_DIR).resolve())
