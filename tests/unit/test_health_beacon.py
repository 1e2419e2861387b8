"""Heartbeat publishing (beacon.py) and the API's view of them (monitor.py), without Kafka."""

from __future__ import annotations

import asyncio
import threading

from orchestrator.health.beacon import LOOP_STALL_S, Beacon
from orchestrator.health.heartbeat import Heartbeat, decode, encode
from orchestrator.health.monitor import StatusView


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def beacon(sent: list[tuple[bytes, bytes | None]], clock: Clock, **kw: object) -> Beacon:
    return Beacon(
        lambda k, v: sent.append((k, v)),
        "processor",
        "processor-h-1",
        kw.pop("instance", None),  # type: ignore[arg-type]
        clock=clock,
        wall_ms=lambda: int(clock.now * 1000),
        interval_ms=2000,
        **kw,  # type: ignore[arg-type]
    )


def test_beats_once_per_interval_unless_forced() -> None:
    sent: list[tuple[bytes, bytes | None]] = []
    clock = Clock()
    b = beacon(sent, clock)
    assert b.due() and b.beat({"c": [1, 0]})
    clock.now += 1
    assert not b.due() and not b.beat({"c": [0, 1]})
    assert b.beat({"c": [0]}, force=True)  # partitions changed: at once
    clock.now += 2
    assert b.beat({"c": [0]}, lag={"c": {0: 3}}, last_batch_ms=5)
    beats = [decode(v) for _, v in sent if v is not None]
    assert [hb.partitions["c"] for hb in beats] == [(0, 1), (0,), (0,)]
    assert beats[-1].lag == {"c": {0: 3}} and beats[-1].last_batch_ms == 5
    assert beats[-1].at_ms == 103_000


def test_keyed_by_the_instance_id_so_a_restart_replaces_its_record() -> None:
    sent: list[tuple[bytes, bytes | None]] = []
    b = beacon(sent, Clock(), instance="host-7-processor")
    b.beat({"c": [0]})
    b.close()
    assert [k for k, _ in sent] == [b"host-7-processor", b"host-7-processor"]
    assert sent[-1][1] is None  # a clean stop: tombstone


def test_no_heartbeat_while_the_event_loop_is_stuck() -> None:
    loop = asyncio.new_event_loop()  # never run: a loop that answers nothing
    try:
        sent: list[tuple[bytes, bytes | None]] = []
        clock = Clock()
        b = beacon(sent, clock, loop=loop)
        assert b.beat({"c": [0]})
        clock.now += LOOP_STALL_S + 1
        assert not b.beat({"c": [0]})
        loop.run_until_complete(asyncio.sleep(0))  # the loop turns: the pings are answered
        clock.now += 3
        assert b.beat({"c": [0]})
    finally:
        loop.close()


def test_the_view_keeps_the_newest_beat_per_key_and_forgets_tombstones() -> None:
    view = StatusView(lambda apply: None)  # type: ignore[arg-type,return-value]
    older = Heartbeat("processor", "p1", 10, partitions={"c": (0,)})
    newer = Heartbeat("processor", "p1", 20, partitions={"c": (0, 1)})
    view.apply(b"p1", encode(newer))
    view.apply(b"p1", encode(older))  # read late: never moves it back in time
    view.apply(b"g1", encode(Heartbeat("gate", "g1", 5)))
    view.apply(b"junk", b"not json")  # someone else's record: skipped
    assert sorted(b.member for b in view.beats()) == ["g1", "p1"]
    assert next(b for b in view.beats() if b.member == "p1").at_ms == 20
    view.apply(b"g1", None)
    assert [b.member for b in view.beats()] == ["p1"]


def test_the_view_retries_until_the_topic_can_be_read() -> None:
    attempts: list[int] = []
    started = threading.Event()

    class Follower:
        def __init__(self) -> None:
            attempts.append(1)

        def start(self, timeout_s: float) -> bool:
            if len(attempts) < 3:
                raise RuntimeError("Kafka unreachable")
            started.set()
            return True

        def stop(self) -> None:
            pass

    view = StatusView(lambda apply: Follower(), retry_s=0.01)  # type: ignore[arg-type,return-value]
    assert not view.ready
    view.start()
    assert started.wait(5)
    view._thread.join(5)
    assert view.ready and len(attempts) == 3
    view.stop()
