"""Health verdicts from heartbeats (orchestrator/health): given heartbeats and a time, then."""

from __future__ import annotations

import pytest

from orchestrator.health.assess import (
    STALE_MS,
    Expectation,
    assess,
    unserved_partition,
)
from orchestrator.health.heartbeat import Heartbeat, decode, encode

NOW = 1_000_000
CMD = "p.commands"
PROCESSORS = Expectation("processor", {CMD: 4})


def beat(member: str, partitions: tuple[int, ...], age_ms: int = 0, **kw: object) -> Heartbeat:
    return Heartbeat(
        component=str(kw.pop("component", "processor")),
        member=member,
        at_ms=NOW - age_ms,
        partitions={CMD: partitions},
        **kw,  # type: ignore[arg-type]
    )


def test_heartbeat_round_trips_through_its_json() -> None:
    original = Heartbeat(
        component="processor",
        member="processor-h-1",
        at_ms=5,
        instance="h-9-processor",
        host="h",
        pid=1,
        state="recovering",
        partitions={CMD: (0, 2)},
        recovering={CMD: (3,)},
        lag={CMD: {0: 4, 2: 0}},
        last_batch_ms=4,
        started_ms=1,
    )
    assert decode(encode(original)) == original
    assert original.key == "h-9-processor"
    assert original.total_lag() == 4


@pytest.mark.parametrize(
    ("value", "field"),
    [(b"[]", "object"), (b"{}", "component"), (b'{"component":"x","member":"m"}', "at")],
)
def test_a_record_that_is_no_heartbeat_is_refused_with_the_reason(value: bytes, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        decode(value)


def test_processors_are_healthy_when_live_ones_serve_every_partition() -> None:
    verdict = assess(PROCESSORS, [beat("a", (0, 1)), beat("b", (2, 3), age_ms=1000)], NOW)
    assert verdict.healthy
    assert verdict.details["alive"] == 2
    assert verdict.details["unservedPartitions"] == {}


def test_a_partition_of_a_dead_processor_makes_processors_unhealthy() -> None:
    dead = beat("b", (2, 3), age_ms=STALE_MS)
    verdict = assess(PROCESSORS, [beat("a", (0, 1)), dead], NOW)
    assert not verdict.healthy
    assert verdict.details["unservedPartitions"] == {CMD: [2, 3]}
    assert "p.commands partitions [2, 3] served by no live processor" in verdict.details["reason"]
    states = {i["id"]: i["state"] for i in verdict.details["instances"]}
    assert states == {"a": "serving", "b": "dead"}


def test_a_takeover_heals_the_partitions_of_the_dead_one() -> None:
    beats = [beat("a", (0, 1, 2, 3)), beat("b", (2, 3), age_ms=60_000)]
    assert assess(PROCESSORS, beats, NOW).healthy


def test_partitions_still_recovering_are_not_served() -> None:
    recovering = beat("a", (0, 1), recovering={CMD: (2, 3)}, state="recovering")
    verdict = assess(PROCESSORS, [recovering], NOW)
    assert verdict.details["unservedPartitions"] == {CMD: [2, 3]}


def test_no_processor_at_all_is_unhealthy() -> None:
    verdict = assess(PROCESSORS, [], NOW)
    assert not verdict.healthy
    assert verdict.details["unservedPartitions"] == {CMD: [0, 1, 2, 3]}


def test_a_missing_topic_is_named() -> None:
    verdict = assess(Expectation("processor", {CMD: None}), [beat("a", (0,))], NOW)
    assert not verdict.healthy
    assert verdict.details["reason"] == "topic p.commands does not exist"


def test_gates_are_optional_until_one_has_run() -> None:
    gates = Expectation("gate", {"p.gate": 2}, required=False)
    assert assess(gates, [beat("a", (0, 1))], NOW).healthy  # a processor's beat: not a gate
    crashed = Heartbeat("gate", "gate-1", NOW - 60_000, partitions={"p.gate": (0, 1)})
    verdict = assess(gates, [crashed], NOW)
    assert not verdict.healthy
    assert verdict.details["unservedPartitions"] == {"p.gate": [0, 1]}


def test_lag_counts_live_instances_only() -> None:
    live = beat("a", (0, 1, 2, 3), lag={CMD: {0: 5, 1: 2}})
    dead = beat("b", (), age_ms=STALE_MS, lag={CMD: {2: 100}})
    verdict = assess(PROCESSORS, [live, dead], NOW)
    assert verdict.details["lagRecords"] == 7


def test_an_unserved_commands_partition_is_known_per_partition() -> None:
    beats = [beat("a", (0, 1)), beat("b", (2,), age_ms=STALE_MS + 1)]
    assert not unserved_partition(beats, CMD, 1, NOW)
    assert unserved_partition(beats, CMD, 2, NOW)
    assert unserved_partition(beats, CMD, 3, NOW)
