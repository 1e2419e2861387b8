"""Who polls and what the task gate holds, for the Queues page and /metrics.

- ``BackgroundPresence``: one ``PresenceView`` per API process, started in a daemon thread and
  retried while Kafka is unreachable, so the API never waits for it at start; until it has read
  the presence topic it simply answers with what it has (``ready`` says which).
- ``GateStatusCache``: the gate's per-type counts (``read_gate_status``) with a short cache,
  so several browsers and Prometheus servers cost one read of the gate-status topic per TTL.
- ``poller_rows``: a queue's pollers as the API answers them (last poll age, active or not).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from orchestrator.flow.presence import PresenceView
from orchestrator.flow.status import read_gate_status
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

PRESENCE_RETRY_S = 5.0
PRESENCE_START_TIMEOUT_S = 30.0
GATE_STATUS_TTL_S = 2.0
GATE_STATUS_TIMEOUT_S = 3.0

Poller = tuple[str | None, str, int]  # (domain, worker id, last poll ms): PresenceView.pollers


class BackgroundPresence:
    """A PresenceView that starts itself in the background; ``pollers`` works at once."""

    def __init__(self, factory: Callable[[], PresenceView], retry_s: float = PRESENCE_RETRY_S):
        self._factory = factory
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._view = factory()  # not connected yet: answers "nobody" until started
        self._ready = False
        self._thread = threading.Thread(target=self._run, name="presence-start", daemon=True)

    @classmethod
    def start_for(cls, settings: Settings) -> BackgroundPresence:
        presence = cls(lambda: PresenceView.from_settings(settings))
        presence._thread.start()
        return presence

    @property
    def ready(self) -> bool:
        """True once the view has read the presence topic (to its end, or for 30 s)."""
        return self._ready

    @property
    def window_ms(self) -> int:
        return self._view.window_ms

    def pollers(self, task_type: str) -> list[Poller]:
        return self._view.pollers(task_type)

    def _run(self) -> None:
        view = self._view
        while not self._stopping.is_set():
            try:
                view.start(PRESENCE_START_TIMEOUT_S)  # blocking: creates the topic, catches up
            except Exception as exc:  # Kafka slow or down: keep the API up, try again
                log.warning("api: presence view not started (%s); retrying", exc)
                view.stop()
                if self._stopping.wait(self._retry_s):
                    return
                view = self._factory()
                with self._lock:
                    self._view = view
                continue
            with self._lock:  # exactly one of _run and stop() stops a started view
                self._ready = True
                if self._stopping.is_set():
                    view.stop()
            return

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            started = self._ready
        if started:
            self._view.stop()


class GateStatusCache:
    """``read_gate_status`` at most once per ``ttl_s``; blocking (call it in a thread)."""

    def __init__(
        self,
        kafka: Kafka,
        topic: str,
        ttl_s: float = GATE_STATUS_TTL_S,
        read: Callable[..., dict[str, dict[str, Any]]] = read_gate_status,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._ttl_s = ttl_s
        self._read = read
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, dict[str, Any]]] | None = None

    def get(self) -> dict[str, dict[str, Any]]:
        """``{task definition name: counts}``; raises when Kafka cannot be read."""
        with self._lock:  # concurrent callers wait for one read instead of each reading
            if self._cached and time.monotonic() - self._cached[0] < self._ttl_s:
                return self._cached[1]
            found = self._read(self._kafka, self._topic, GATE_STATUS_TIMEOUT_S)
            self._cached = (time.monotonic(), found)
            return found


def gate_status_cache(app: FastAPI, settings: Settings) -> GateStatusCache:
    """The app's one GateStatusCache (shared by the Queues page and /metrics)."""
    cache: GateStatusCache | None = getattr(app.state, "gate_status", None)
    if cache is None:
        topic = TopicNames.from_settings(settings).gate_status
        cache = app.state.gate_status = GateStatusCache(settings, topic)
    return cache


def presence_of(app: FastAPI) -> BackgroundPresence | None:
    """The app's presence view (None in an app whose lifespan did not start one)."""
    presence: BackgroundPresence | None = getattr(app.state, "presence", None)
    return presence


def poller_rows(
    pollers: list[Poller], domain: str | None, now_ms: int, window_ms: int
) -> list[dict[str, Any]]:
    """The pollers of one queue, newest first; ``active``: polled within the window (the
    rule the engine's domain routing applies, ``PresenceView.active``)."""
    rows = [
        {
            "workerId": worker,
            "lastPollTime": last,
            "lastPollSecondsAgo": max(0, (now_ms - last) // 1000),
            "active": last > now_ms - window_ms,
        }
        for d, worker, last in pollers
        if d == domain
    ]
    return sorted(rows, key=lambda row: -int(row["lastPollTime"]))
