"""What /health, /health/ready and /metrics report: every component, cheaply.

- ``kafka``: a metadata round trip (brokers, cluster id, and the partition counts the other
  verdicts need), at most once per ``PROBE_TTL_S`` whatever the request rate;
- ``postgres``: ``SELECT 1`` and the projector's offsets (its lag), same cache;
- ``processors``, ``gates``, ``projector``: the heartbeats the API follows on the status topic
  (orchestrator/health), judged by ``orchestrator.health.assess``: memory only.

``/health`` is healthy when every component is; ``/health/ready`` when those in
``READY_REQUIRES`` are (gates only hold back limited task types: reported, not required).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from orchestrator.api.app import Runtime
from orchestrator.api.models import ComponentHealth
from orchestrator.health.assess import Expectation, Verdict, assess, unserved_partition
from orchestrator.health.monitor import StatusView
from orchestrator.kafka.clients import murmur2_partition
from projections import queries

PROBE_TTL_S = 2.0
CHECK_TIMEOUT_S = 2.0
ALL = ("kafka", "postgres", "processors", "gates", "projector")
READY_REQUIRES = ("kafka", "postgres", "processors", "projector")
NOT_READ = "the API has not read the status topic yet (just started, or Kafka unreachable)"


class HealthChecks:
    def __init__(self, rt: Runtime, ttl_s: float = PROBE_TTL_S) -> None:
        self.rt = rt
        self.view: StatusView | None = rt.status
        self.ttl_s = ttl_s
        self._lock = asyncio.Lock()
        self._probed: tuple[float, ComponentHealth, ComponentHealth] | None = None
        t = rt.topics
        n = rt.settings.partitions
        # Until Kafka has answered once: the counts this deployment creates its topics with.
        self.partitions: dict[str, int | None] = {
            t.commands: n,
            t.events: n,
            t.definitions: 1,
            t.gate: None,
        }

    async def report(self) -> dict[str, ComponentHealth]:
        kafka, postgres = await self.probes()
        return {"kafka": kafka, "postgres": postgres, **self.services()}

    async def probes(self) -> tuple[ComponentHealth, ComponentHealth]:
        async with self._lock:  # one probe at a time; the others wait for its answer
            if self._probed is None or time.monotonic() - self._probed[0] >= self.ttl_s:
                kafka, postgres = await asyncio.gather(self._kafka(), self._postgres())
                self._probed = (time.monotonic(), kafka, postgres)
            return self._probed[1], self._probed[2]

    def services(self) -> dict[str, ComponentHealth]:
        if self.view is None or not self.view.ready:
            unknown = ComponentHealth(healthy=False, details={"reason": NOT_READ})
            return {"processors": unknown, "gates": unknown, "projector": unknown}
        beats = self.view.beats()
        now = int(time.time() * 1000)
        t, p = self.rt.topics, self.partitions
        expectations = {
            "processors": Expectation("processor", {t.commands: p[t.commands]}),
            "gates": Expectation("gate", {t.gate: p[t.gate]}, required=False),
            "projector": Expectation(
                "projector", {t.events: p[t.events], t.definitions: p[t.definitions]}
            ),
        }
        return {name: _shown(assess(e, beats, now)) for name, e in expectations.items()}

    async def _kafka(self) -> ComponentHealth:
        rt = self.rt
        wanted = tuple(self.partitions)
        try:
            details = await asyncio.wait_for(
                asyncio.to_thread(rt.producer.cluster_metadata, CHECK_TIMEOUT_S, wanted),
                CHECK_TIMEOUT_S + 1,
            )
        except Exception as exc:
            return ComponentHealth(healthy=False, details={"error": str(exc) or type(exc).__name__})
        found: dict[str, int] = details.pop("partitions", {})
        self.partitions = {topic: found.get(topic) for topic in wanted}
        details["bootstrap"] = rt.settings.kafka_bootstrap
        return ComponentHealth(healthy=bool(details["brokers"]), details=details)

    async def _postgres(self) -> ComponentHealth:
        rt = self.rt
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with rt.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
                    await conn.execute("SELECT 1")
                    lag = await queries.projection_lag(conn, rt.projector_name)
        except Exception as exc:
            return ComponentHealth(healthy=False, details={"error": str(exc) or type(exc).__name__})
        details: dict[str, Any] = {
            "projectionLagRecords": sum(p.records_behind for p in lag),
            "projectorLastCommitSecondsAgo": min(
                (p.seconds_since_update for p in lag), default=None
            ),
        }
        return ComponentHealth(healthy=True, details=details)


def unserved_commands_partition(rt: Runtime, workflow_id: str) -> int | None:
    """The commands partition of ``workflow_id`` if no live processor serves it (None when it
    is served, or when the API cannot know yet)."""
    view = rt.status
    if view is None or not view.ready:
        return None
    partition = murmur2_partition(workflow_id, rt.settings.partitions)
    now = int(time.time() * 1000)
    if unserved_partition(view.beats(), rt.topics.commands, partition, now):
        return partition
    return None


def no_processor_warning(rt: Runtime, partition: int) -> str:
    """The ``Warning`` header of a write accepted while no processor serves its partition."""
    return (
        f'199 orchestrator "accepted, but no live processor serves partition {partition} of '
        f'{rt.topics.commands}: it takes effect once one takes the partition over"'
    )


def failing(components: dict[str, ComponentHealth], names: Iterable[str] = ALL) -> list[str]:
    return [name for name in names if not components[name].healthy]


def _shown(verdict: Verdict) -> ComponentHealth:
    return ComponentHealth(healthy=verdict.healthy, details=verdict.details)
