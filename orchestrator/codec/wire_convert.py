"""Per-field converters between domain values and Avro record values, built once per type.

Encoders turn a dataclass attribute into what fastavro writes; decoders turn what fastavro read
into the attribute, raising CodecError that names the record and the field. Identity
conversions are None so the hot loop skips the call.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from orchestrator.codec.identity_cache import IdentityCache
from orchestrator.codec.schemas import CodecError
from orchestrator.codec.wire_payloads import ExternalJson, external_json
from orchestrator.codec.wire_types import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    Kind,
    WireField,
    WireType,
)
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.definitions_json import (
    DefinitionError,
    parse_task_def,
    parse_workflow_def,
    task_def_to_json,
    workflow_def_to_json,
)

# definitions_json has no public WorkflowTask functions yet; these are its own renderer and
# reader, so a WorkflowTask reads back exactly as it was written.
from orchestrator.domain.definitions_json import _task as _read_task
from orchestrator.domain.definitions_json import _task_to_json as _task_json
from orchestrator.domain.problems import Reader

Convert = Callable[[Any], Any]
_DEFINITION_CACHE = 512  # distinct definition texts kept parsed, per field

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
# orjson reads integers beyond 64 bits as floats, silently losing digits. Such a number has at
# least 19 digits (-9223372036854775809), so text with a run of 19 digits is read by the exact,
# slower stdlib parser. The run is found by mapping digits to 1 and everything else to 0 with
# bytes.translate (C speed, ~25% of orjson's own time; a regex costs 3 times orjson's).
_DIGITS = bytes(1 if 0x30 <= i <= 0x39 else 0 for i in range(256))
_LONG_RUN = b"\x01" * 19


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def dumps(value: Any) -> str:
    """JSON text of ``value``; integers beyond 64 bits are kept exactly (stdlib fallback)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    if _LONG_RUN in text.encode().translate(_DIGITS):
        return json.loads(text, parse_constant=_reject_constant)
    return orjson.loads(text)


def to_timestamp(ms: int) -> int:
    if not MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS:
        raise CodecError(f"timestamp {ms} ms is outside the years 1..9999")
    return ms


def from_timestamp(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_MS


def _json_encoder(where: str) -> Convert:
    def encode(value: Any) -> str | dict[str, Any]:
        if type(value) is ExternalJson:  # passed through unread (wire_payloads.py)
            return value.as_record()
        try:
            return dumps(value)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"{where}: not a JSON value: {exc}") from None

    return encode


def _json_decoder(where: str) -> Convert:
    def decode(text: str | dict[str, Any]) -> Any:
        if type(text) is dict:  # the ExternalPayload branch: resolved by the Wire
            return external_json(where, text)
        try:
            return loads(text)  # type: ignore[arg-type]  # the string branch
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            raise CodecError(f"invalid JSON text in field {where}: {exc}") from None

    return decode


def _enum_decoder(where: str, enum: type[StrEnum]) -> Convert:
    members = {m.value: m for m in enum}
    allowed = ", ".join(members)

    def decode(value: str) -> StrEnum:
        found = members.get(value)
        if found is None:
            raise CodecError(
                f"unknown {enum.__name__} value {value!r} in field {where} (allowed: {allowed})"
            )
        return found

    return decode


def _timestamp_encoder(where: str) -> Convert:
    def encode(ms: int) -> int:
        try:
            return to_timestamp(ms)
        except CodecError as exc:
            raise CodecError(f"{where}: {exc}") from None
        except TypeError:
            raise CodecError(f"{where}: expected epoch milliseconds, got {ms!r}") from None

    return encode


def parse_workflow_task(data: Any) -> WorkflowTask:
    reader = Reader()
    task = _read_task(reader, data, "$")
    if reader.problems:
        raise DefinitionError(reader.problems)
    return task


_DEFINITIONS: dict[Kind, tuple[Convert, Convert, type]] = {
    Kind.WORKFLOW_DEF: (workflow_def_to_json, parse_workflow_def, WorkflowDef),
    Kind.TASK_DEF: (task_def_to_json, parse_task_def, TaskDef),
    Kind.WORKFLOW_TASK: (_task_json, parse_workflow_task, WorkflowTask),
}


def _definition_codec(kind: Kind, where: str) -> tuple[Convert, Convert]:
    render, parse_json, expected = _DEFINITIONS[kind]

    # The same definition text recurs in every WorkflowStarted of a workflow and every
    # TaskScheduled of a task type; parsing it is the costliest step of a decode, and the
    # values are frozen (their JSON parts read-only by the domain's contract), so share them.
    @functools.lru_cache(maxsize=_DEFINITION_CACHE)
    def parse(text: str) -> Any:
        return parse_json(loads(text))

    # Encoding too: the same definition object (the registry's) is rendered for every
    # workflow started from it and every task scheduled from it.
    rendered: IdentityCache[str] = IdentityCache(_DEFINITION_CACHE)

    def render_checked(value: Any) -> str:
        if not isinstance(value, expected):
            raise CodecError(f"{where}: expected a {expected.__name__}, got {value!r:.80}")
        return dumps(render(value))

    def encode(value: Any) -> str:
        return rendered.get(value, render_checked)

    def decode(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:  # DefinitionError and JSON errors
            raise CodecError(f"invalid {expected.__name__} JSON in field {where}: {exc}") from None

    return encode, decode


def _optional(convert: Convert | None) -> Convert | None:
    if convert is None:
        return None
    return lambda value: None if value is None else convert(value)


def field_converters(record: str, f: WireField) -> tuple[Convert | None, Convert | None]:
    """(encode, decode) for one field; None means the value passes through unchanged."""
    where = f"{record}.{f.name}"
    enc: Convert | None = None
    dec: Convert | None = None
    if f.kind is Kind.JSON:
        return _json_encoder(where), _json_decoder(where)  # None is the text "null"
    if f.kind is Kind.TIMESTAMP:
        enc, dec = _timestamp_encoder(where), from_timestamp
    elif f.kind is Kind.ENUM and f.enum is not None:
        dec = _enum_decoder(where, f.enum)
    elif f.kind is Kind.STRING_ARRAY:
        # fastavro reads a tuple in a union as (branch name, value): a list, never a tuple
        enc, dec = (list if f.optional else None), tuple
    elif f.kind in (Kind.WORKFLOW_DEF, Kind.TASK_DEF, Kind.WORKFLOW_TASK):
        enc, dec = _definition_codec(f.kind, where)
    if f.optional:
        return _optional(enc), _optional(dec)
    return enc, dec


Fields = tuple[tuple[str, Convert | None], ...]


def type_converters(t: WireType) -> tuple[Fields, Fields]:
    """(encoders, decoders) of a type's own fields, in declaration order."""
    pairs = [(f.name, field_converters(t.name, f)) for f in t.fields]
    return (
        tuple((name, enc) for name, (enc, _) in pairs),
        tuple((name, dec) for name, (_, dec) in pairs),
    )
