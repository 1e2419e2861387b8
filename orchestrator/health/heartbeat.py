"""A service process's heartbeat: what it serves right now, as a record on the status topic.

Processors, gates and projectors each publish one every ``INTERVAL_MS`` (and at once when their
partitions change) on ``<prefix>.status`` (one partition, compacted), keyed by their instance id
(``ORCHESTRATOR_INSTANCE_ID``, so a restarted process replaces its predecessor's record) or else
their member id; a process that stops cleanly publishes a tombstone. The value is JSON:

    {"component": "processor", "member": "processor-host-4242", "instance": "host-17-processor",
     "host": "host", "pid": 4242, "state": "serving",
     "partitions": {"orchestrator.commands": [0, 1]},  # recovered and served now
     "recovering": {"orchestrator.commands": [2]},     # gained, being loaded
     "lag": {"orchestrator.commands": {"0": 3, "1": 0}}, # records not read yet
     "lastBatchAt": 1760000000000, "at": 1760000001000, "startedAt": 1759999990000,
     "intervalMs": 2000,
     "stats": {"executionsActive": 12, "executionsFinished": 340}}  # component's own counters

Times are the publisher's wall clock in ms; readers compare them with theirs (keep clocks in
sync, as for the presence topic).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INTERVAL_MS = 2_000
COMPONENTS = ("processor", "gate", "projector")

Partitions = Mapping[str, tuple[int, ...]]  # topic -> partitions
Lag = Mapping[str, Mapping[int, int]]  # topic -> partition -> records behind


@dataclass(frozen=True, slots=True)
class Heartbeat:
    component: str
    member: str
    at_ms: int
    instance: str | None = None
    host: str = ""
    pid: int = 0
    state: str = "serving"
    partitions: Partitions = field(default_factory=dict)
    recovering: Partitions = field(default_factory=dict)
    lag: Lag = field(default_factory=dict)
    last_batch_ms: int | None = None
    started_ms: int | None = None
    interval_ms: int = INTERVAL_MS
    stats: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.instance or self.member

    def served(self, topic: str) -> tuple[int, ...]:
        return self.partitions.get(topic, ())

    def total_lag(self) -> int:
        return sum(n for per in self.lag.values() for n in per.values())


def encode(beat: Heartbeat) -> bytes:
    return json.dumps(
        {
            "component": beat.component,
            "member": beat.member,
            "instance": beat.instance,
            "host": beat.host,
            "pid": beat.pid,
            "state": beat.state,
            "partitions": {t: sorted(ps) for t, ps in beat.partitions.items()},
            "recovering": {t: sorted(ps) for t, ps in beat.recovering.items() if ps},
            "lag": {t: {str(p): n for p, n in sorted(per.items())} for t, per in beat.lag.items()},
            "lastBatchAt": beat.last_batch_ms,
            "at": beat.at_ms,
            "startedAt": beat.started_ms,
            "intervalMs": beat.interval_ms,
            "stats": dict(beat.stats),
        },
        separators=(",", ":"),
    ).encode()


def decode(value: bytes) -> Heartbeat:
    """The heartbeat in ``value``; ValueError (naming the field) when it is not one."""
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        return Heartbeat(
            component=_text(data, "component"),
            member=_text(data, "member"),
            at_ms=int(data["at"]),
            instance=data.get("instance") or None,
            host=str(data.get("host") or ""),
            pid=int(data.get("pid") or 0),
            state=str(data.get("state") or "serving"),
            partitions=_partitions(data.get("partitions")),
            recovering=_partitions(data.get("recovering")),
            lag={
                str(t): {int(p): int(n) for p, n in per.items()}
                for t, per in (data.get("lag") or {}).items()
            },
            last_batch_ms=_optional_int(data.get("lastBatchAt")),
            started_ms=_optional_int(data.get("startedAt")),
            interval_ms=int(data.get("intervalMs") or INTERVAL_MS),
            stats={str(k): int(v) for k, v in (data.get("stats") or {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a heartbeat: {type(exc).__name__} {exc}") from None


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _partitions(raw: Any) -> dict[str, tuple[int, ...]]:
    return {str(t): tuple(sorted(int(p) for p in ps)) for t, ps in (raw or {}).items()}


def _optional_int(raw: Any) -> int | None:
    return None if raw is None else int(raw)
