"""The verdict per component, from heartbeats and partition counts (pure: the time is given).

A service instance is *alive* while its last heartbeat is younger than ``STALE_MS`` (three
intervals: one lost record is no death). A partition is *served* when an alive instance of the
component lists it in ``partitions`` (recovered and being consumed). A component is healthy
when every partition of its topics is served:

| component  | topics (every partition served)       | required                             |
|------------|---------------------------------------|--------------------------------------|
| processors | commands                              | always                               |
| projector  | events, definitions                   | always                               |
| gates      | gate                                  | once a gate has published a heartbeat |

Gates are optional in a deployment (only rate- or concurrency-limited task types go through
them); once one has run, its partitions must stay served until it stops cleanly (a clean stop
removes its record; a crashed gate's record stays, dead, until the status topic forgets it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.health.heartbeat import Heartbeat

STALE_MS = 6_000

COMPONENT_NAMES = {"processor": "processors", "gate": "gates", "projector": "projector"}


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one component must serve: partition counts of its topics (None: topic missing)."""

    component: str
    topics: Mapping[str, int | None]
    required: bool = True


def alive(beat: Heartbeat, now_ms: int, stale_ms: int = STALE_MS) -> bool:
    return now_ms - beat.at_ms < stale_ms


def assess(
    expect: Expectation, beats: Iterable[Heartbeat], now_ms: int, stale_ms: int = STALE_MS
) -> Verdict:
    mine = sorted((b for b in beats if b.component == expect.component), key=lambda b: b.key)
    live = [b for b in mine if alive(b, now_ms, stale_ms)]
    details: dict[str, Any] = {
        "instances": [_instance(b, now_ms, stale_ms) for b in mine],
        "alive": len(live),
        "lagRecords": sum(b.total_lag() for b in live),
    }
    if not expect.required and not mine:
        details["note"] = f"no {COMPONENT_NAMES[expect.component]} running (none required)"
        return Verdict(True, details)
    missing = sorted(t for t, n in expect.topics.items() if n is None)
    unserved = {
        topic: gaps
        for topic, count in expect.topics.items()
        if count is not None and (gaps := _unserved(topic, count, live))
    }
    details["unservedPartitions"] = unserved
    problems = [f"topic {t} does not exist" for t in missing]
    problems += [
        f"{topic} partitions {gaps} served by no live {expect.component}"
        for topic, gaps in unserved.items()
    ]
    if problems:
        details["reason"] = "; ".join(problems)
    return Verdict(not problems, details)


def _unserved(topic: str, count: int, live: list[Heartbeat]) -> list[int]:
    served = {p for b in live for p in b.served(topic)}
    return [p for p in range(count) if p not in served]


def _instance(beat: Heartbeat, now_ms: int, stale_ms: int) -> dict[str, Any]:
    return {
        "id": beat.member,
        "instanceId": beat.instance,
        "host": beat.host,
        "pid": beat.pid,
        "alive": alive(beat, now_ms, stale_ms),
        "state": beat.state if alive(beat, now_ms, stale_ms) else "dead",
        "partitions": {t: list(ps) for t, ps in beat.partitions.items()},
        "recovering": {t: list(ps) for t, ps in beat.recovering.items() if ps},
        "lagRecords": beat.total_lag(),
        "stats": dict(beat.stats),
        "lastHeartbeatSecondsAgo": _seconds(now_ms - beat.at_ms),
        "lastBatchSecondsAgo": (
            None if beat.last_batch_ms is None else _seconds(now_ms - beat.last_batch_ms)
        ),
    }


def _seconds(ms: int) -> float:
    return round(max(0, ms) / 1000, 1)


def unserved_partition(beats: Iterable[Heartbeat], topic: str, partition: int, now_ms: int) -> bool:
    """True when no live processor serves ``partition`` of ``topic`` (the commands topic)."""
    return not any(
        partition in b.served(topic)
        for b in beats
        if b.component == "processor" and alive(b, now_ms)
    )
