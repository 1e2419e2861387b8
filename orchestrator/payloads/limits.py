"""Payload size policy: Conductor's soft thresholds and hard maximums, per kind of payload.

- Above its **soft threshold** a payload is stored in the payload store and the record carries
  a reference to it (the codec does this when encoding: orchestrator/codec/wire_payloads.py).
- Above its **hard maximum** a payload is refused: a start gets 413, a worker's result fails
  its task with FAILED_WITH_TERMINAL_ERROR and a reason naming the size and the limit.
- Whatever the thresholds, no record this project writes exceeds ``record_max`` bytes
  (ORCHESTRATOR_MAX_RECORD_BYTES): the codec moves the largest remaining payloads of a record
  to the store until it fits, and refuses (RecordTooLarge) a record that still does not fit
  (e.g. a huge definition).

The defaults keep every record under Kafka's default 1 MB (broker ``message.max.bytes``
1,048,588; librdkafka's producer ``message.max.bytes`` 1,000,000): see docs/adr/0011.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestrator.domain.payload_limits import PayloadLimits, json_size
from orchestrator.settings import Settings, env_name

KB = 1024


class PayloadKind(StrEnum):
    WORKFLOW_INPUT = "workflow input"
    WORKFLOW_OUTPUT = "workflow output"
    TASK_INPUT = "task input"
    TASK_OUTPUT = "task output"

    @property
    def _stem(self) -> str:
        return self.value.replace(" ", "_")

    @property
    def threshold_setting(self) -> str:
        return f"{self._stem}_payload_threshold_kb"

    @property
    def max_setting(self) -> str:
        return f"max_{self._stem}_payload_kb"


class PayloadTooLarge(ValueError):
    """A payload over its hard maximum. ``str()`` is the reason shown to the user."""

    def __init__(self, what: str, kind: PayloadKind, size: int, limit: int) -> None:
        self.what = what
        self.kind = kind
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size} bytes of JSON, greater than the permissible limit of {limit} "
            f"bytes for a {kind} ({env_name(kind.max_setting)})"
        )


@dataclass(frozen=True, slots=True)
class PayloadPolicy:
    """Sizes in bytes (of compact UTF-8 JSON text; records: of the encoded record)."""

    thresholds: dict[PayloadKind, int]
    maximums: dict[PayloadKind, int]
    record_max: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PayloadPolicy:
        def kb(name: str) -> int:
            return int(getattr(settings, name)) * KB

        return cls(
            thresholds={k: kb(k.threshold_setting) for k in PayloadKind},
            maximums={k: kb(k.max_setting) for k in PayloadKind},
            record_max=settings.max_record_bytes,
        )

    @classmethod
    def defaults(cls) -> PayloadPolicy:
        return cls.from_settings(Settings())

    def threshold(self, kind: PayloadKind) -> int:
        return self.thresholds[kind]

    def domain_limits(self) -> PayloadLimits:
        """The hard maximums as the pure core takes them (Context.payload_limits)."""
        m = self.maximums
        return PayloadLimits(
            workflow_input=m[PayloadKind.WORKFLOW_INPUT],
            workflow_output=m[PayloadKind.WORKFLOW_OUTPUT],
            task_input=m[PayloadKind.TASK_INPUT],
            task_output=m[PayloadKind.TASK_OUTPUT],
        )

    def check(self, kind: PayloadKind, value: Any, what: str) -> int:
        """The size of ``value``; PayloadTooLarge if it is over the kind's hard maximum."""
        size = json_size(value)
        limit = self.maximums[kind]
        if limit > 0 and size > limit:
            raise PayloadTooLarge(what, kind, size, limit)
        return size
