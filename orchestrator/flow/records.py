"""The gate topic's records: the processor's dispatches and notices, the gate's own releases.

The gate topic is internal to the orchestrator (like the processors' state changelog): its
records are read only by the gate. A dispatch is the exact Avro record the task topic would get
(wire.encode_dispatch); a control record is a small JSON object, told apart by its first byte
("{" can start neither an Avro single-object record (C3 01) nor a Confluent-framed one (00)).

    {"k": "started" | "ended" | "released", "task": "<task id>", "at": <epoch ms>}

An ``ended`` record may also carry ``"start": <epoch ms>``: when a worker took the task, for a
task that was never acknowledged (its result carried ``started_at``; ADR 0007). A ``started``
record's ``at`` is the acknowledgement's time. The gate counts both in the rate's window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    STARTED = "started"  # the processor folded TaskPickedUp
    ENDED = "ended"  # the processor folded a terminal task event
    RELEASED = "released"  # the gate handed the task to its task topic


@dataclass(frozen=True, slots=True)
class Control:
    kind: Kind
    task_id: str
    at: int
    start: int | None = None  # ended only: the hand-out time of an unacknowledged task


def is_control(value: bytes | None) -> bool:
    return bool(value) and value[:1] == b"{"  # type: ignore[index]


def encode_control(kind: Kind, task_id: str, at: int, start: int | None = None) -> bytes:
    record: dict[str, str | int] = {"k": kind.value, "task": task_id, "at": at}
    if start is not None:
        record["start"] = start
    return json.dumps(record, separators=(",", ":")).encode()


def decode_control(value: bytes) -> Control:
    """Raises ValueError (json.JSONDecodeError, KeyError wrapped) on a malformed record."""
    try:
        raw = json.loads(value)
        start = raw.get("start")
        return Control(
            Kind(raw["k"]), str(raw["task"]), int(raw["at"]), None if start is None else int(start)
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed gate control record: {exc}") from None
