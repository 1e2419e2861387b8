"""Large JSON payloads at the codec boundary (docs/adr/0011).

Every JSON field is an Avro union ``["string", ExternalPayload]``: JSON text inline, or a
reference to the text in the payload store. Encoding (with a ``Payloads``, see
orchestrator/payloads/) puts a field's text in the store when it is above the soft threshold of
its kind, then, if the record is still over the record limit, the largest remaining payloads,
one by one, until it fits; a record that cannot fit raises ``RecordTooLarge``. Decoding turns a
reference back into the value (the pure core always sees full values), or leaves it as an
``ExternalJson`` for a reader that only passes records on (the gate).

References are content hashes: re-encoding the same value gives the same record, which the
processor's crash recovery relies on (docs/adr/0003).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.codec.schemas import CodecError
from orchestrator.codec.wire_types import Kind, WireType
from orchestrator.payloads.limits import PayloadKind
from orchestrator.payloads.store import PayloadNotFound, PayloadUnavailable, is_ref
from orchestrator.settings import env_name

if TYPE_CHECKING:
    from orchestrator.payloads.externalizer import Payloads

DEFAULT_RECORD_MAX = 900_000  # without Payloads: ORCHESTRATOR_MAX_RECORD_BYTES's default
_MIN_CHECK = 1024  # a text shorter than this (in characters) is under every threshold (>= 1 KiB)

JsonFields = tuple[tuple[str, PayloadKind], ...]


@dataclass(frozen=True, slots=True)
class ExternalJson:
    """A JSON field whose value is in the payload store and was not read (a pass-through
    reader, e.g. the gate). Encoding it writes the same reference back. Never a domain value:
    only a reader that does not look at payloads may hold one."""

    ref: str
    size: int

    def as_record(self) -> dict[str, Any]:
        return {"ref": self.ref, "size": self.size}


class RecordTooLarge(CodecError):
    """A record over the record limit even with every payload in the store."""

    def __init__(self, record: str, size: int, limit: int, fields: dict[str, int]) -> None:
        self.record = record
        self.size = size
        self.limit = limit
        self.fields = fields
        largest = ", ".join(f"{name} {n} bytes" for name, n in fields.items()) or "none"
        super().__init__(
            f"{record} would be a {size}-byte record even with its payloads in the payload "
            f"store, over the {limit}-byte limit of a Kafka record "
            f"({env_name('max_record_bytes')}); largest fields: {largest}"
        )


def payload_kind(record: str, field: str) -> PayloadKind:
    """Which thresholds apply to a JSON field (every JSON field of the wire is one of four)."""
    if field == "workflow_input":
        return PayloadKind.WORKFLOW_INPUT
    if field == "task_input":
        return PayloadKind.TASK_INPUT
    workflow = record.startswith("Workflow") or record in (
        "StartWorkflow",
        "ChildWorkflowFinished",
        "VariablesUpdated",
    )
    output = "output" in field or field == "variables"
    if workflow:
        return PayloadKind.WORKFLOW_OUTPUT if output else PayloadKind.WORKFLOW_INPUT
    return PayloadKind.TASK_OUTPUT if output else PayloadKind.TASK_INPUT


def json_fields(t: WireType) -> JsonFields:
    return tuple((f.name, payload_kind(t.name, f.name)) for f in t.fields if f.kind is Kind.JSON)


def external_json(where: str, value: dict[str, Any]) -> ExternalJson:
    """The ExternalPayload branch of a decoded JSON field, checked."""
    ref, size = value.get("ref"), value.get("size")
    if not is_ref(ref) or not isinstance(size, int) or size < 0:
        raise CodecError(f"invalid ExternalPayload in field {where}: {value!r:.200}")
    return ExternalJson(ref, size)  # type: ignore[arg-type]  # checked by is_ref


def externalize(payloads: Payloads, fields: JsonFields, record: dict[str, Any]) -> None:
    """Store each JSON text above the soft threshold of its kind; the record gets references."""
    for name, kind in fields:
        text = record[name]
        if (
            type(text) is str
            and len(text) >= _MIN_CHECK
            and len(text.encode("utf-8")) > payloads.threshold(kind)
        ):
            record[name] = _stored(payloads, text)


def fit(
    full_name: str,
    record: dict[str, Any],
    data: bytes,
    encode: Callable[[dict[str, Any]], bytes],
    payloads: Payloads | None,
    fields: JsonFields,
    limit: int,
) -> bytes:
    """``data`` (the encoded ``record``) brought under ``limit`` by storing its largest inline
    payloads, largest first; RecordTooLarge if that is not enough (or there is no store)."""
    inline = sorted(
        ((len(record[name]), name) for name, _ in fields if type(record[name]) is str),
        reverse=True,
    )
    for _, name in inline if payloads is not None else ():
        assert payloads is not None
        record[name] = _stored(payloads, record[name])
        data = encode(record)
        if len(data) <= limit:
            return data
    sizes = {
        name: len(value.encode("utf-8", "replace") if isinstance(value, str) else value)
        for name, value in record.items()
        if isinstance(value, str | bytes) and len(value) >= _MIN_CHECK
    }
    largest = dict(sorted(sizes.items(), key=lambda item: -item[1])[:3])
    raise RecordTooLarge(full_name.rpartition(".")[2], len(data), limit, largest)


def resolver(payloads: Payloads | None) -> Callable[[str, ExternalJson], Any]:
    """``(field, reference) -> value``: the payload read back and parsed."""
    from orchestrator.codec.wire_convert import loads

    def resolve(where: str, ref: ExternalJson) -> Any:
        if payloads is None:
            raise PayloadUnavailable(
                f"field {where} references payload {ref.ref} ({ref.size} bytes) but this "
                f"process has no payload store configured"
            )
        try:
            text = payloads.load_text(ref.ref)
        except PayloadNotFound as exc:
            raise CodecError(f"field {where}: {exc}") from None
        try:
            return loads(text)
        except ValueError as exc:
            raise CodecError(f"field {where}: payload {ref.ref} is not JSON: {exc}") from None

    return resolve


def _stored(payloads: Payloads, text: str) -> dict[str, Any]:
    ref, size = payloads.store_text(text)
    return {"ref": ref, "size": size}
