"""The one mapping between the domain's dataclasses and the Avro records of schemas/.

    encode_command(cmd, command_id=None) -> bytes     decode_command(data) -> Command
    encode_event(ev, correlation_id=None) -> bytes    decode_event(data) -> Event
    encode_dispatch(d) -> bytes                       decode_dispatch(data) -> DispatchTask
    encode_definition / decode_definition, encode_dead_letter / decode_dead_letter,
    encode_rejection / decode_rejection (wire_infra.py), decode_any(data) -> object

Bytes are Avro single-object encoded (see schemas/README.md). Every failure raises CodecError
with a precise reason, which the processor puts on the dead-letter topic. Field converters are
built once at import (wire_convert.py), the schemas are parsed once by the Codec: the hot path
is one fastavro call plus one loop over precomputed (field, converter) pairs.

Large payloads (docs/adr/0011): a Wire built with ``payloads`` stores JSON payloads above their
soft threshold in the payload store and writes a reference instead, keeps every record under
the record limit (``RecordTooLarge`` otherwise), and reads references back when decoding
(``PayloadUnavailable`` when the store cannot be reached: transient, never a dead letter).

The module functions use the project's schemas/ and the process's payload store, once
``set_default_payloads`` was called (orchestrator.payloads.setup does it for every command);
build a `Wire(get_codec(settings.schemas_dir), payloads)` for another folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from orchestrator.codec import wire_infra
from orchestrator.codec import wire_payloads as wp
from orchestrator.codec.codec import Codec, get_codec
from orchestrator.codec.schemas import CodecError
from orchestrator.codec.wire_convert import Fields, from_timestamp, to_timestamp, type_converters
from orchestrator.codec.wire_types import COMMANDS, DISPATCH, DOMAIN_TYPES, EVENTS, WireType
from orchestrator.domain.commands import Command
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.events import Event

if TYPE_CHECKING:
    from orchestrator.payloads.externalizer import Payloads


@dataclass(frozen=True, slots=True)
class _Spec:
    cls: type
    full_name: str
    encoders: Fields
    decoders: Fields
    json_fields: wp.JsonFields  # (name, payload kind) of the JSON fields


def _spec(t: WireType) -> _Spec:
    encoders, decoders = type_converters(t)
    return _Spec(t.cls, t.full_name, encoders, decoders, wp.json_fields(t))


_COMMANDS = {t.cls: _spec(t) for t in COMMANDS}
_EVENTS = {t.cls: _spec(t) for t in EVENTS}
_DISPATCH = _spec(DISPATCH)
_COMMANDS_BY_NAME = {s.full_name: s for s in _COMMANDS.values()}
_EVENTS_BY_NAME = {s.full_name: s for s in _EVENTS.values()}


class CommandEnvelope(NamedTuple):
    command: Command
    command_id: str | None


class EventEnvelope(NamedTuple):
    event: Event
    correlation_id: str | None
    schema_version: int  # of the schema the record was written with


def _encode_fields(spec: _Spec, obj: Any, record: dict[str, Any]) -> dict[str, Any]:
    for name, convert in spec.encoders:
        value = getattr(obj, name)
        record[name] = value if convert is None else convert(value)
    return record


Resolve = Callable[[str, wp.ExternalJson], Any] | None  # None: references stay ExternalJson


def _decode_fields(
    spec: _Spec, record: dict[str, Any], kwargs: dict[str, Any], resolve: Resolve
) -> Any:
    for name, convert in spec.decoders:
        value = record[name]
        kwargs[name] = value if convert is None else convert(value)
    if resolve is not None:
        for name, _ in spec.json_fields:
            value = kwargs[name]
            if type(value) is wp.ExternalJson:
                kwargs[name] = resolve(f"{spec.full_name}.{name}", value)
    return spec.cls(**kwargs)


def _timestamp(where: str, ms: int) -> int:
    try:
        return to_timestamp(ms)
    except CodecError as exc:
        raise CodecError(f"{where}: {exc}") from None
    except TypeError:
        raise CodecError(f"{where}: expected epoch milliseconds, got {ms!r}") from None


class Wire:
    """Domain values <-> bytes with one Codec (and a payload store). Build once and share."""

    def __init__(
        self,
        codec: Codec,
        payloads: Payloads | None = None,
        *,
        record_max: int | None = None,
    ) -> None:
        self.codec = codec
        self.payloads = payloads
        if record_max is None:
            record_max = payloads.record_max if payloads is not None else wp.DEFAULT_RECORD_MAX
        self.record_max = record_max
        self._resolve = wp.resolver(payloads)
        # Fails here, at start, if a domain type has no schema (CodecError names it).
        self._versions = {
            t.full_name: int(codec.schema(t.full_name).get("schema_version", 1))
            for t in DOMAIN_TYPES
        }

    # -- commands --------------------------------------------------------------------------

    def encode_command(self, cmd: Command, command_id: str | None = None) -> bytes:
        spec = _COMMANDS.get(type(cmd))
        if spec is None:
            raise CodecError(f"not a command: {type(cmd).__name__}")
        header = {
            "command_id": command_id,
            "workflow_id": cmd.workflow_id,
            "root_workflow_id": cmd.root_workflow_id,
            "at": _timestamp(f"{spec.full_name}.header.at", cmd.at),
            "actor": cmd.actor,
        }
        return self._encode(spec, _encode_fields(spec, cmd, {"header": header}))

    def decode_command(self, data: bytes) -> Command:
        return self.decode_command_envelope(data).command

    def decode_command_envelope(self, data: bytes) -> CommandEnvelope:
        name, record = self.codec.decode(data)
        return _command_from(name, record, self._resolve)

    # -- events ----------------------------------------------------------------------------

    def encode_event(self, ev: Event, correlation_id: str | None = None) -> bytes:
        spec = _EVENTS.get(type(ev))
        if spec is None:
            raise CodecError(f"not an event: {type(ev).__name__}")
        header = {
            "event_id": f"{ev.workflow_id}:{ev.seq}",
            "workflow_id": ev.workflow_id,
            "root_workflow_id": ev.root_workflow_id,
            "seq": ev.seq,
            "occurred_at": _timestamp(f"{spec.full_name}.header.occurred_at", ev.at),
            "actor": ev.actor,
            "correlation_id": correlation_id,
            "schema_version": self._versions[spec.full_name],
        }
        return self._encode(spec, _encode_fields(spec, ev, {"header": header}))

    def decode_event(self, data: bytes) -> Event:
        return self.decode_event_envelope(data).event

    def decode_event_envelope(self, data: bytes) -> EventEnvelope:
        name, record = self.codec.decode(data)
        return _event_from(name, record, self._resolve)

    # -- task dispatches -------------------------------------------------------------------

    def encode_dispatch(self, d: DispatchTask) -> bytes:
        if type(d) is not DispatchTask:
            raise CodecError(f"not a DispatchTask: {type(d).__name__}")
        return self._encode(_DISPATCH, _encode_fields(_DISPATCH, d, {}))

    def decode_dispatch(self, data: bytes, *, resolve: bool = True) -> DispatchTask:
        """``resolve=False``: a payload in the store stays an ExternalJson (for a reader that
        passes the dispatch on without reading its input: the gate)."""
        name, record = self.codec.decode(data)
        _expect(name, _DISPATCH.full_name, "a task dispatch")
        result: DispatchTask = _decode_fields(
            _DISPATCH, record, {}, self._resolve if resolve else None
        )
        return result

    def _encode(self, spec: _Spec, record: dict[str, Any]) -> bytes:
        """The record's bytes: payloads above their threshold in the store, and at most
        ``record_max`` bytes (RecordTooLarge)."""
        payloads = self.payloads
        if payloads is not None and spec.json_fields:
            wp.externalize(payloads, spec.json_fields, record)
        data = self.codec.encode(spec.full_name, record)
        if len(data) <= self.record_max:
            return data
        return wp.fit(
            spec.full_name,
            record,
            data,
            lambda r: self.codec.encode(spec.full_name, r),
            payloads,
            spec.json_fields,
            self.record_max,
        )

    # -- infrastructure records ------------------------------------------------------------

    def encode_definition(
        self, definition: wire_infra.Definition, *, registered_at: int, actor: str
    ) -> bytes:
        return wire_infra.encode_definition(self.codec, definition, registered_at, actor)

    def decode_definition(self, data: bytes) -> wire_infra.DefinitionRecord:
        return wire_infra.decode_definition(*self.codec.decode(data))

    def encode_dead_letter(self, letter: wire_infra.DeadLetter) -> bytes:
        return wire_infra.encode_dead_letter(self.codec, letter)

    def decode_dead_letter(self, data: bytes) -> wire_infra.DeadLetter:
        return wire_infra.decode_dead_letter(*self.codec.decode(data))

    def encode_rejection(
        self,
        command: Command,
        code: str,
        reason: str,
        *,
        rejected_at: int | None = None,
        command_id: str | None = None,
    ) -> bytes:
        return wire_infra.encode_rejection(
            self.codec, command, code, reason, rejected_at, command_id
        )

    def decode_rejection(self, data: bytes) -> wire_infra.Rejection:
        return wire_infra.decode_rejection(*self.codec.decode(data))

    def decode_any(self, data: bytes) -> object:
        """Whatever record ``data`` holds, as its Python value (for tools and replay)."""
        name, record = self.codec.decode(data)
        if name in _EVENTS_BY_NAME:
            return _event_from(name, record, self._resolve).event
        if name in _COMMANDS_BY_NAME:
            return _command_from(name, record, self._resolve).command
        if name == _DISPATCH.full_name:
            return _decode_fields(_DISPATCH, record, {}, self._resolve)
        return wire_infra.decode_infra(name, record)


def _expect(name: str, expected: str, what: str) -> None:
    if name != expected:
        raise CodecError(f"expected {what} ({expected}), got a record of type {name}")


def _command_from(name: str, record: dict[str, Any], resolve: Resolve) -> CommandEnvelope:
    spec = _COMMANDS_BY_NAME.get(name)
    if spec is None:
        raise CodecError(f"expected a command, got a record of type {name}")
    h = record["header"]
    kwargs = {
        "workflow_id": h["workflow_id"],
        "root_workflow_id": h["root_workflow_id"],
        "at": from_timestamp(h["at"]),
        "actor": h["actor"],
    }
    return CommandEnvelope(_decode_fields(spec, record, kwargs, resolve), h["command_id"])


def _event_from(name: str, record: dict[str, Any], resolve: Resolve) -> EventEnvelope:
    spec = _EVENTS_BY_NAME.get(name)
    if spec is None:
        raise CodecError(f"expected an event, got a record of type {name}")
    h = record["header"]
    kwargs = {
        "workflow_id": h["workflow_id"],
        "root_workflow_id": h["root_workflow_id"],
        "seq": h["seq"],
        "at": from_timestamp(h["occurred_at"]),
        "actor": h["actor"],
    }
    event = _decode_fields(spec, record, kwargs, resolve)
    return EventEnvelope(event, h["correlation_id"], h["schema_version"])


_DEFAULT: list[Wire] = []  # the process's default Wire, built on first use
_DEFAULT_PAYLOADS: list[Payloads | None] = [None]
_DEFAULT_REGISTRY: list[str | None] = [None]


def default_wire() -> Wire:
    """The Wire of the project's schemas/ folder, the process's payload store and registry."""
    if not _DEFAULT:
        codec = get_codec(registry_url=_DEFAULT_REGISTRY[0])
        _DEFAULT.append(Wire(codec, _DEFAULT_PAYLOADS[0]))
    return _DEFAULT[0]


def set_default_registry(url: str | None) -> None:
    """The schema registry of ``default_wire()`` (None: single-object encoding); called once
    per process by orchestrator.codec.setup.configure_registry."""
    _DEFAULT_REGISTRY[0] = url
    _DEFAULT.clear()


def set_default_payloads(payloads: Payloads | None) -> None:
    """The payload store of ``default_wire()`` (and so of the module functions below); called
    once per process by orchestrator.payloads.setup.configure_process."""
    _DEFAULT_PAYLOADS[0] = payloads
    _DEFAULT.clear()


def encode_command(cmd: Command, command_id: str | None = None) -> bytes:
    return default_wire().encode_command(cmd, command_id)


def decode_command(data: bytes) -> Command:
    return default_wire().decode_command(data)


def decode_command_envelope(data: bytes) -> CommandEnvelope:
    return default_wire().decode_command_envelope(data)


def encode_event(ev: Event, correlation_id: str | None = None) -> bytes:
    return default_wire().encode_event(ev, correlation_id)


def decode_event(data: bytes) -> Event:
    return default_wire().decode_event(data)


def decode_event_envelope(data: bytes) -> EventEnvelope:
    return default_wire().decode_event_envelope(data)


def encode_dispatch(d: DispatchTask) -> bytes:
    return default_wire().encode_dispatch(d)


def decode_dispatch(data: bytes, *, resolve: bool = True) -> DispatchTask:
    return default_wire().decode_dispatch(data, resolve=resolve)


def encode_definition(
    definition: wire_infra.Definition, *, registered_at: int, actor: str
) -> bytes:
    return default_wire().encode_definition(definition, registered_at=registered_at, actor=actor)


def decode_definition(data: bytes) -> wire_infra.DefinitionRecord:
    return default_wire().decode_definition(data)


def encode_dead_letter(letter: wire_infra.DeadLetter) -> bytes:
    return default_wire().encode_dead_letter(letter)


def decode_dead_letter(data: bytes) -> wire_infra.DeadLetter:
    return default_wire().decode_dead_letter(data)


def encode_rejection(
    command: Command,
    code: str,
    reason: str,
    *,
    rejected_at: int | None = None,
    command_id: str | None = None,
) -> bytes:
    return default_wire().encode_rejection(
        command, code, reason, rejected_at=rejected_at, command_id=command_id
    )


def decode_rejection(data: bytes) -> wire_infra.Rejection:
    return default_wire().decode_rejection(data)


def decode_any(data: bytes) -> object:
    return default_wire().decode_any(data)
