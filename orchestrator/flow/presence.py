"""Who polls which task queue: Conductor's poll data, as a small compacted Kafka topic.

Conductor records, on every poll, "task type T, domain D, worker W polled at time X"
(``PollData``) and routes a task to a domain only if someone polled it within
``activeWorkerLastPollTimeout``. Here the pollers announce themselves on ``<prefix>.presence``
(one partition, compacted, key = ``[type, domain, worker]`` as JSON, value = the poll as JSON):

- ``PresenceAnnouncer``: used by the Kafka SDK's poll loops and the HTTP poll bridge; publishes
  a poll at most every ``PRESENCE_INTERVAL_S`` per (type, domain, worker), fire and forget (a
  lost announcement only makes a domain look idle for a while, never loses a task).
- ``PresenceView``: follows the topic from the beginning in a daemon thread and answers
  ``active(type, domain)`` (polled within ``Settings.active_worker_last_poll_secs``) and
  ``pollers(type)``. The processor's dispatch routing asks it (``orchestrator.flow.domains``).

A Kafka SDK worker consumes continuously, so its loop announces as long as it runs, busy or not.
Times are the announcer's wall clock, compared with the reader's: keep clocks in sync (NTP), as
Conductor does for its servers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException

from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.dead_letters import DeadLetterSink
from orchestrator.kafka.follower import OnError, TopicFollower
from orchestrator.kafka.topics import TopicNames, presence_topic_spec
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

PRESENCE_INTERVAL_S = 2.0  # well below the 10 s activity window: a live poller never lapses


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Poll:
    """One presence record: ``worker_id`` polled ``task_type`` in ``domain`` at ``last_poll_ms``."""

    task_type: str
    domain: str | None
    worker_id: str
    last_poll_ms: int

    @property
    def key(self) -> bytes:
        return json.dumps([self.task_type, self.domain, self.worker_id]).encode()

    def encode(self) -> bytes:
        return json.dumps(
            {
                "taskType": self.task_type,
                "domain": self.domain,
                "workerId": self.worker_id,
                "lastPollTime": self.last_poll_ms,
            }
        ).encode()


def decode_poll(value: bytes) -> Poll:
    data = json.loads(value)
    return Poll(
        task_type=str(data["taskType"]),
        domain=data.get("domain") or None,
        worker_id=str(data["workerId"]),
        last_poll_ms=int(data["lastPollTime"]),
    )


class PresenceTable:
    """The latest poll per (type, domain, worker); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[tuple[str, str | None, str], int] = {}

    def record(self, poll: Poll) -> None:
        key = (poll.task_type, poll.domain, poll.worker_id)
        with self._lock:  # max: an older record read late never moves a poll back in time
            self._polls[key] = max(self._polls.get(key, 0), poll.last_poll_ms)

    def forget(self, key: bytes) -> None:
        """A tombstone: the record of that key is gone."""
        task_type, domain, worker_id = json.loads(key)
        with self._lock:
            self._polls.pop((task_type, domain or None, worker_id), None)

    def last_poll(self, task_type: str, domain: str | None) -> int | None:
        """The newest poll of a queue by any worker (None: never polled)."""
        with self._lock:
            times = [t for (ty, d, _), t in self._polls.items() if ty == task_type and d == domain]
        return max(times, default=None)

    def pollers(self, task_type: str) -> list[tuple[str | None, str, int]]:
        """(domain, worker id, last poll ms) of every worker seen polling ``task_type``."""
        with self._lock:
            rows = [(d, w, t) for (ty, d, w), t in self._polls.items() if ty == task_type]
        return sorted(rows, key=lambda row: (row[0] or "", row[1]))


class PresenceAnnouncer:
    """Publishes polls, each (type, domain, worker) at most once per ``interval_s``."""

    def __init__(
        self,
        produce: Callable[[bytes, bytes], None],
        *,
        interval_s: float = PRESENCE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._produce = produce
        self._interval_s = interval_s
        self._clock = clock
        self._wall_ms = wall_ms
        self._last: dict[tuple[str, str | None, str], float] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_producer(cls, producer: Any, topic: str, **options: Any) -> PresenceAnnouncer:
        """An announcer producing with a confluent-kafka ``Producer`` (which someone polls)."""

        def produce(key: bytes, value: bytes) -> None:
            try:
                producer.produce(topic, key=key, value=value)
            except (BufferError, KafkaException) as exc:  # presence must never stop a poller
                log.warning("presence not published: %s", exc)

        return cls(produce, **options)

    def polled(self, task_type: str, domain: str | None, worker_id: str) -> bool:
        """Note a poll; True when it was published (not throttled)."""
        key = (task_type, domain or None, worker_id)
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                return False
            self._last[key] = now
        poll = Poll(task_type, domain or None, worker_id, self._wall_ms())
        self._produce(poll.key, poll.encode())
        return True


class PresenceView:
    """Follows the presence topic in a daemon thread: who polled what, and is a queue active.

    ``PresenceView.from_settings(settings)``, then ``start()`` (blocking: creates the topic if it
    is missing and reads it to its end), then ``active`` / ``pollers`` from any thread.
    """

    def __init__(
        self,
        kafka: Kafka,
        topic: str,
        window_ms: int,
        *,
        ensure: Callable[[float], None] | None = None,
        wall_ms: Callable[[], int] = now_ms,
        on_error: OnError | None = None,
    ) -> None:
        self.table = PresenceTable()
        self._on_error = on_error  # a record that is not a poll: e.g. to the dead letters
        self.topic = topic
        self.window_ms = window_ms
        self._ensure = ensure
        self._wall_ms = wall_ms
        self._kafka = kafka
        self._follower: TopicFollower | None = None  # made by start(): never started, no client

    @classmethod
    def from_settings(cls, settings: Settings, component: str | None = None) -> PresenceView:
        """``component`` given: records that are not polls go to the dead-letter topic as set
        aside by it (else they are logged and skipped)."""
        spec = presence_topic_spec(settings)
        names = TopicNames.from_settings(settings)
        sink = DeadLetterSink(settings, names.dlq, component) if component else None

        def ensure(timeout_s: float) -> None:
            report = ensure_topics(settings, [spec], timeout_s)
            if not report.ok:
                raise RuntimeError(f"cannot create {spec.name}: {report.errors}")

        return cls(
            settings,
            names.presence,
            settings.active_worker_last_poll_secs * 1000,
            ensure=ensure,
            on_error=sink,
        )

    # -- questions -------------------------------------------------------------------------

    def active(self, task_type: str, domain: str | None) -> bool:
        """Did a worker poll ``task_type`` in ``domain`` within the window? (Conductor's
        ``lastPollTime > now - activeWorkerLastPollTimeout``.)"""
        last = self.table.last_poll(task_type, domain or None)
        return last is not None and last > self._wall_ms() - self.window_ms

    def pollers(self, task_type: str) -> list[tuple[str | None, str, int]]:
        """(domain, worker id, last poll ms) of every worker seen polling ``task_type``."""
        return self.table.pollers(task_type)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> None:
        if self._ensure is not None:
            self._ensure(timeout_s)
        self._follower = TopicFollower(
            self._kafka, self.topic, self._apply, name="presence", on_error=self._on_error
        )
        if not self._follower.start(timeout_s):
            log.warning("presence: not caught up after %.0f s; going on", timeout_s)

    def stop(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        """Raises for a record that is not a poll: the follower sets it aside and goes on."""
        if value is None:
            if key:
                self.table.forget(key)
            return
        self.table.record(decode_poll(value))
