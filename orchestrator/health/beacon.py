"""Publish a service process's heartbeats on the status topic (format: heartbeat.py).

The service calls ``due()`` from its own main loop (the processor's intake thread, the gate's
and the projector's loops) and ``beat(...)`` when it is: a loop that stops turning stops the
heartbeats, and the process is reported dead 6 s later, which is the point. ``beat(force=True)``
goes out at once (partitions gained or lost). Fire and forget: a lost heartbeat costs at most
one interval of staleness. ``close()`` publishes a tombstone (a clean stop).

A processor's intake thread keeps turning while the processor's event loop is stuck (it only
hands batches over); given that loop, the beacon sends nothing while the loop has not run a
callback for ``LOOP_STALL_S``, so a processor whose loop hangs is reported dead too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.health.heartbeat import INTERVAL_MS, Heartbeat, Lag, encode

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)

LOOP_STALL_S = 5.0
CLOSE_FLUSH_S = 2.0


def now_ms() -> int:
    return int(time.time() * 1000)


class Beacon:
    def __init__(
        self,
        produce: Callable[[bytes, bytes | None], None],
        component: str,
        member: str,
        instance: str | None = None,
        *,
        flush: Callable[[], object] = lambda: None,
        interval_ms: int = INTERVAL_MS,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._produce = produce
        self._flush = flush
        self._interval_s = interval_ms / 1000
        self._loop = loop
        self._clock = clock
        self._wall_ms = wall_ms
        self._last = -float("inf")
        self._loop_seen = clock()
        self._stalled = False
        self.template = Heartbeat(
            component=component,
            member=member,
            at_ms=0,
            instance=instance,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_ms=wall_ms(),
            interval_ms=interval_ms,
        )

    @classmethod
    def to_topic(
        cls,
        kafka: Kafka,
        topic: str,
        component: str,
        member: str,
        instance: str | None = None,
        **kwargs: Any,
    ) -> Beacon:
        """A beacon with a producer of its own (the service's may be flushed, or be async)."""
        from confluent_kafka import Producer

        from orchestrator.kafka.clients import producer_config

        producer = Producer(producer_config(kafka, client_id=f"{member}-status", linger_ms=0))

        def produce(key: bytes, value: bytes | None) -> None:
            # Kafka away for minutes (queue full): drop it, the next one says it all.
            with contextlib.suppress(BufferError):
                producer.produce(topic, key=key, value=value)
            producer.poll(0)

        def flush() -> object:
            return producer.flush(CLOSE_FLUSH_S)

        return cls(produce, component, member, instance, flush=flush, **kwargs)

    def due(self) -> bool:
        return self._clock() - self._last >= self._interval_s

    def beat(
        self,
        partitions: Mapping[str, Iterable[int]],
        *,
        recovering: Mapping[str, Iterable[int]] | None = None,
        lag: Lag | None = None,
        last_batch_ms: int | None = None,
        state: str = "serving",
        stats: Mapping[str, int] | None = None,
        force: bool = False,
    ) -> bool:
        """Publish a heartbeat if one is due (or ``force``); True if one went out."""
        now = self._clock()
        if not force and now - self._last < self._interval_s:
            return False
        self._last = now
        if self._loop_stalled(now):
            return False
        beat = self._heartbeat(partitions, recovering or {}, lag or {}, last_batch_ms, state)
        if stats:
            beat = dataclasses.replace(beat, stats=dict(stats))
        self._produce(beat.key.encode(), encode(beat))
        return True

    def close(self) -> None:
        """A clean stop: the tombstone removes this process from every reader's view."""
        try:
            self._produce(self.template.key.encode(), None)
            self._flush()
        except Exception:  # stopping anyway: the record then goes stale instead
            log.warning("could not publish the stop heartbeat", exc_info=True)

    def _heartbeat(
        self,
        partitions: Mapping[str, Iterable[int]],
        recovering: Mapping[str, Iterable[int]],
        lag: Lag,
        last_batch_ms: int | None,
        state: str,
    ) -> Heartbeat:
        t = self.template
        return Heartbeat(
            component=t.component,
            member=t.member,
            at_ms=self._wall_ms(),
            instance=t.instance,
            host=t.host,
            pid=t.pid,
            state=state,
            partitions={topic: tuple(sorted(ps)) for topic, ps in partitions.items()},
            recovering={topic: tuple(sorted(ps)) for topic, ps in recovering.items()},
            lag=lag,
            last_batch_ms=last_batch_ms,
            started_ms=t.started_ms,
            interval_ms=t.interval_ms,
        )

    def _loop_stalled(self, now: float) -> bool:
        """Ask the event loop (if any) to answer; True while it has not for LOOP_STALL_S."""
        if self._loop is None:
            return False
        try:
            self._loop.call_soon_threadsafe(self._seen)
        except RuntimeError:  # the loop is closed: nothing will be served any more
            return True
        stalled = now - self._loop_seen > LOOP_STALL_S
        if stalled != self._stalled:
            self._stalled = stalled
            if stalled:
                log.warning("event loop stuck for %.0f s: heartbeats withheld", LOOP_STALL_S)
        return stalled

    def _seen(self) -> None:
        self._loop_seen = self._clock()


def service_beacon(
    settings: Any, component: str, member: str, loop: asyncio.AbstractEventLoop | None = None
) -> Beacon:
    """The beacon of a service process, on ``<prefix>.status``, keyed by its instance id."""
    from orchestrator.kafka.topics import TopicNames

    return Beacon.to_topic(
        settings,
        TopicNames.from_settings(settings).status,
        component,
        member,
        settings.instance_id,
        loop=loop,
    )


def processor_beacon(settings: Any, loop: asyncio.AbstractEventLoop) -> Beacon:
    return service_beacon(settings, "processor", settings.processor_id, loop)
