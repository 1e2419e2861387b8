"""The gate topic's records: the processor's dispatches and notices, the gate's own releases.

The gate topic is internal to the orchestrator (like the processors' state changelog): its
records are read only by the gate. A dispatch is the exact Avro record the task topic would get
(wire.encode_dispatch); a control record is a small JSON object, told apart by its first byte
("{" can start neither an Avro single-object record (C3 01) nor a Confluent-framed one (00)).

    {"k": "started" | "ended" | "released", "task": "<task id>", "at": <epoch ms>}
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


def is_control(value: bytes | None) -> bool:
    return bool(value) and value[:1] == b"{"  # type: ignore[index]


def encode_control(kind: Kind, task_id: str, at: int) -> bytes:
    return json.dumps({"k": kind.value, "task": task_id, "at": at}, separators=(",", ":")).encode()


def decode_control(value: bytes) -> Control:
    """Raises ValueError (json.JSONDecodeError, KeyError wrapped) on a malformed record."""
    try:
        raw = json.loads(value)
        return Control(Kind(raw["k"]), str(raw["task"]), int(raw["at"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed gate control record: {exc}") from None
