"""The API's view of the status topic: every service's latest heartbeat, in memory.

A ``TopicFollower`` reads ``<prefix>.status`` from its beginning in a daemon thread and keeps
the latest heartbeat per key (a tombstone removes it), so a health request reads memory, never
Kafka. The follower is started in the background and retried while Kafka is unreachable (the
API must start anyway); until it has read the topic to its end, ``ready`` is False and the
components it reports on count as unknown (unhealthy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.health.heartbeat import Heartbeat, decode
from orchestrator.kafka.follower import TopicFollower

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
RETRY_S = 2.0

Factory = Callable[[Callable[[bytes | None, bytes | None], None]], TopicFollower]


class StatusView:
    def __init__(self, factory: Factory, retry_s: float = RETRY_S) -> None:
        self._factory = factory
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._beats: dict[str, Heartbeat] = {}
        self._ready = False
        self._stopping = threading.Event()
        self._follower: TopicFollower | None = None
        self._thread = threading.Thread(target=self._run, name="status-view", daemon=True)

    @classmethod
    def for_topic(cls, kafka: Kafka, topic: str) -> StatusView:
        return cls(lambda apply: TopicFollower(kafka, topic, apply, name="status"))

    def start(self) -> StatusView:
        self._thread.start()
        return self

    @property
    def ready(self) -> bool:
        """True once the topic has been read to the end it had when the view started."""
        return self._ready

    def beats(self) -> list[Heartbeat]:
        with self._lock:
            return list(self._beats.values())

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode("utf-8", "replace")
        if value is None:
            with self._lock:
                self._beats.pop(name, None)
            return
        try:
            beat = decode(value)
        except ValueError as exc:  # someone else's record: ignore it, say so
            log.warning("status topic: skipping record %r: %s", name, exc)
            return
        with self._lock:
            held = self._beats.get(name)
            if held is None or beat.at_ms >= held.at_ms:
                self._beats[name] = beat

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            follower = self._factory(self.apply)
            try:
                caught_up = follower.start(START_TIMEOUT_S)
            except Exception as exc:  # Kafka away or the topic not there yet: keep trying
                log.warning("status view not started (%s); retrying", exc)
                follower.stop()
                self._stopping.wait(self._retry_s)
                continue
            with self._lock:
                self._follower = follower
            if self._stopping.is_set():
                self.stop()
                return
            if not caught_up:
                follower.wait_caught_up(START_TIMEOUT_S * 10)
            self._ready = True
            return
