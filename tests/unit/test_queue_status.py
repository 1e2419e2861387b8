"""The Queues page's building blocks without Kafka: task topic names back to queues, a queue's
pollers, the gate-status cache and the presence view started in the background."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orchestrator.api.queue_lags import parse_task_topic
from orchestrator.api.queue_status import BackgroundPresence, GateStatusCache, poller_rows
from orchestrator.kafka.topics import TopicNames

TOPICS = TopicNames("p")


def test_maps_default_and_domain_task_topics_back_to_their_queue() -> None:
    assert parse_task_topic("p.tasks.resize", TOPICS, {}) == ("resize", None)
    assert parse_task_topic("p.tasks.blue.resize", TOPICS, {}) == ("resize", "blue")


def test_maps_a_sanitised_topic_name_through_the_names_it_knows() -> None:
    topic = TOPICS.task("re.size", "blue team")
    assert parse_task_topic(topic, TOPICS, {topic: ("re.size", "blue team")}) == (
        "re.size",
        "blue team",
    )


@pytest.mark.parametrize("topic", ["p.events", "p.gate", "q.tasks.resize", "p.tasks.a.b.c"])
def test_ignores_topics_that_are_not_task_queues(topic: str) -> None:
    assert parse_task_topic(topic, TOPICS, {}) is None


def test_lists_a_queues_pollers_newest_first_and_marks_those_within_the_window() -> None:
    now = 1_000_000
    pollers = [("blue", "old", now - 15_000), (None, "default", now), ("blue", "new", now - 2_500)]
    rows = poller_rows(pollers, "blue", now, window_ms=10_000)
    assert [(r["workerId"], r["lastPollSecondsAgo"], r["active"]) for r in rows] == [
        ("new", 2, True),
        ("old", 15, False),
    ]


def test_reads_the_gate_status_once_per_ttl() -> None:
    reads: list[str] = []

    def read(bootstrap: str, topic: str, timeout_s: float) -> dict[str, dict[str, Any]]:
        reads.append(topic)
        return {"resize": {"held": len(reads)}}

    cache = GateStatusCache("b", "p.gate-status", ttl_s=60, read=read)
    assert cache.get() == cache.get() == {"resize": {"held": 1}}
    assert reads == ["p.gate-status"]
    expired = GateStatusCache("b", "p.gate-status", ttl_s=0, read=read)
    expired.get()
    assert expired.get() == {"resize": {"held": 3}}


class FakeView:
    window_ms = 10_000

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.stopped = False
        self.started = threading.Event()

    def start(self, timeout_s: float) -> None:
        if self.fail:
            raise RuntimeError("kafka is slow")
        self.started.set()

    def stop(self) -> None:
        self.stopped = True

    def pollers(self, task_type: str) -> list[tuple[str | None, str, int]]:
        return [(None, "w1", 1)] if self.started.is_set() else []


def test_the_presence_view_is_retried_in_the_background_until_kafka_answers() -> None:
    views = [FakeView(fail=True), FakeView(fail=False)]
    made = iter(views)
    presence = BackgroundPresence(lambda: next(made), retry_s=0.01)  # type: ignore[arg-type,return-value]
    assert presence.pollers("resize") == [] and not presence.ready  # answers before it started
    presence._thread.start()
    assert views[1].started.wait(5)
    presence._thread.join(5)
    assert presence.ready and views[0].stopped
    assert presence.pollers("resize") == [(None, "w1", 1)]
    presence.stop()
    assert views[1].stopped
