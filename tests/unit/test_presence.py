"""Given/when/then: poller presence (orchestrator.flow.presence) without Kafka."""

from __future__ import annotations

import json

import pytest

from orchestrator.flow.presence import (
    Poll,
    PresenceAnnouncer,
    PresenceTable,
    PresenceView,
    decode_poll,
)
from orchestrator.kafka.topics import TopicNames, presence_topic_spec
from orchestrator.settings import Settings

WINDOW_MS = 10_000
NOW = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.s = 100.0
        self.ms = NOW

    def advance(self, seconds: float) -> None:
        self.s += seconds
        self.ms += int(seconds * 1000)


def make_view(clock: Clock, window_ms: int = WINDOW_MS) -> PresenceView:
    # The consumer is created but never connects: start() is not called.
    return PresenceView("127.0.0.1:1", "p.presence", window_ms, wall_ms=lambda: clock.ms)


def test_a_poll_round_trips_through_its_json_record() -> None:
    poll = Poll("resize", "blue", "w-1", NOW)
    assert decode_poll(poll.encode()) == poll
    assert json.loads(poll.key) == ["resize", "blue", "w-1"]
    assert json.loads(poll.encode())["lastPollTime"] == NOW  # Conductor's PollData name


def test_the_default_queue_is_recorded_as_a_null_domain() -> None:
    poll = Poll("resize", None, "w-1", NOW)
    assert json.loads(poll.encode())["domain"] is None
    assert decode_poll(poll.encode()).domain is None


def test_a_domain_polled_within_the_window_is_active() -> None:
    clock = Clock()
    view = make_view(clock)
    view.table.record(Poll("t", "blue", "w-1", clock.ms))
    clock.advance(9.9)
    assert view.active("t", "blue")


def test_a_domain_not_polled_for_the_window_is_inactive() -> None:
    clock = Clock()
    view = make_view(clock)
    view.table.record(Poll("t", "blue", "w-1", clock.ms))
    clock.advance(10.0)  # Conductor: lastPollTime > now - timeout, strictly
    assert not view.active("t", "blue")


def test_activity_is_per_task_type_and_domain() -> None:
    clock = Clock()
    view = make_view(clock)
    view.table.record(Poll("t", "blue", "w-1", clock.ms))
    assert not view.active("t", "green")
    assert not view.active("other", "blue")
    assert not view.active("t", None)


def test_any_worker_of_the_domain_keeps_it_active() -> None:
    clock = Clock()
    view = make_view(clock)
    view.table.record(Poll("t", "blue", "old", clock.ms - 60_000))
    view.table.record(Poll("t", "blue", "new", clock.ms - 1_000))
    assert view.active("t", "blue")


def test_a_late_older_record_does_not_move_a_poll_back() -> None:
    table = PresenceTable()
    table.record(Poll("t", "blue", "w", NOW))
    table.record(Poll("t", "blue", "w", NOW - 5_000))
    assert table.last_poll("t", "blue") == NOW


def test_a_tombstone_forgets_the_poller() -> None:
    table = PresenceTable()
    poll = Poll("t", "blue", "w", NOW)
    table.record(poll)
    table.forget(poll.key)
    assert table.last_poll("t", "blue") is None
    assert table.pollers("t") == []


def test_pollers_lists_every_worker_of_a_type_by_domain() -> None:
    table = PresenceTable()
    table.record(Poll("t", "green", "w-2", NOW))
    table.record(Poll("t", None, "w-3", NOW - 1))
    table.record(Poll("t", "blue", "w-1", NOW - 2))
    table.record(Poll("other", "blue", "w-9", NOW))
    assert table.pollers("t") == [
        (None, "w-3", NOW - 1),
        ("blue", "w-1", NOW - 2),
        ("green", "w-2", NOW),
    ]


def test_announcer_publishes_at_most_once_per_interval_per_poller() -> None:
    clock = Clock()
    sent: list[Poll] = []
    announcer = PresenceAnnouncer(
        lambda key, value: sent.append(decode_poll(value)),
        interval_s=2.0,
        clock=lambda: clock.s,
        wall_ms=lambda: clock.ms,
    )
    assert announcer.polled("t", "blue", "w-1")
    clock.advance(1.0)
    assert not announcer.polled("t", "blue", "w-1")  # throttled
    assert announcer.polled("t", "green", "w-1")  # another queue: its own budget
    assert announcer.polled("t", "blue", "w-2")  # another worker too
    clock.advance(1.0)
    assert announcer.polled("t", "blue", "w-1")
    assert [(p.domain, p.worker_id, p.last_poll_ms) for p in sent] == [
        ("blue", "w-1", NOW),
        ("green", "w-1", NOW + 1000),
        ("blue", "w-2", NOW + 1000),
        ("blue", "w-1", NOW + 2000),
    ]


def test_announcer_treats_an_empty_domain_as_the_default_queue() -> None:
    sent: list[Poll] = []
    announcer = PresenceAnnouncer(lambda key, value: sent.append(decode_poll(value)))
    announcer.polled("t", "", "w")
    assert sent[0].domain is None


def test_announcer_keeps_polling_when_the_producer_refuses() -> None:
    class FullProducer:
        def produce(self, *args: object, **kwargs: object) -> None:
            raise BufferError("queue full")

    announcer = PresenceAnnouncer.for_producer(FullProducer(), "p.presence")
    assert announcer.polled("t", None, "w")  # logged, not raised


def test_presence_topic_is_small_and_compacted() -> None:
    spec = presence_topic_spec(Settings(topic_prefix="acme"))
    assert spec.name == TopicNames("acme").presence == "acme.presence"
    assert spec.partitions == 1
    assert spec.config["cleanup.policy"] == "compact,delete"


@pytest.mark.parametrize("seconds", [1, 10, 300])
def test_the_window_comes_from_the_settings(seconds: int) -> None:
    view = PresenceView.from_settings(Settings(active_worker_last_poll_secs=seconds))
    assert view.window_ms == seconds * 1000


def test_the_window_setting_defaults_to_conductors_ten_seconds() -> None:
    assert Settings().active_worker_last_poll_secs == 10
