"""GET /metrics: Prometheus text format.

| metric | type | labels | source |
|---|---|---|---|
| orchestrator_workflows_started_total | counter | workflow_type | events (metrics_counts.py) |
| orchestrator_workflows_completed_total | counter | workflow_type | events |
| orchestrator_workflows_failed_total | counter | workflow_type, status (FAILED, TIMED_OUT) | events |
| orchestrator_workflows_terminated_total | counter | workflow_type | events |
| orchestrator_workflow_operations_total | counter | workflow_type, operation (restart, retry, rerun) | events |
| orchestrator_task_queue_wait_seconds | histogram | task_type | scheduled -> picked up |
| orchestrator_task_execution_seconds | histogram | task_type | picked up -> COMPLETED/FAILED |
| orchestrator_workflows_open | gauge | workflow_type, status | workflows table now |
| orchestrator_projection_lag_records | gauge | topic, partition | projector_offsets |
| orchestrator_projection_commit_age_seconds | gauge | topic, partition | projector_offsets |
| orchestrator_projection_event_age_seconds | gauge | topic, partition | now - newest event applied |
| orchestrator_task_queue_depth | gauge | task_type | worker groups' consumer lag |
| orchestrator_gate_held_tasks | gauge | task_type | tasks waiting in the task gate (ADR 0006) |
| orchestrator_gate_in_flight_tasks | gauge | task_type | released by the gate, not ended yet |
| orchestrator_active_pollers | gauge | task_type, domain | workers that polled within the window |
| orchestrator_metrics_uncounted_events | gauge | — | events this process has yet to count |
| orchestrator_component_healthy, orchestrator_service_* | gauge | see health_metrics.py | /health |

Counters and histograms are the same in every API process (see metrics_counts.py): use ``max``
over instances, not ``sum``. Each scrape reads Postgres (incrementally) and, at most every 5 s,
Kafka; a failing source drops its metrics from that scrape and sets
``orchestrator_metrics_source_up{source}`` to 0 instead of failing the scrape.

The gate gauges come from the gate-status topic (read at most every 2 s, source ``gate``), one
series per gated task definition name, present only while its gate's record is fresh (a stale
record, from a gate that died and whose successor has not republished, is left out).
``orchestrator_active_pollers`` counts, per registered or gated task type and queue (``domain``
is "" for the default queue, which is always present), the workers that announced a poll
within ``ORCHESTRATOR_ACTIVE_WORKER_LAST_POLL_SECS`` on the presence topic (Kafka SDK workers
and HTTP pollers alike); it is the same "active" the engine's domain routing uses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.health_checks import HealthChecks
from orchestrator.api.health_metrics import health_families
from orchestrator.api.metrics_counts import Totals
from orchestrator.api.models import ComponentHealth
from orchestrator.api.queue_depth import QueueDepths
from orchestrator.api.queue_status import (
    BackgroundPresence,
    GateStatusCache,
    gate_status_cache,
    presence_of,
)
from orchestrator.api.routes_health import health_checks

log = logging.getLogger(__name__)
router = APIRouter(tags=["metrics"])

_COUNTERS = {
    "WorkflowStarted": ("orchestrator_workflows_started_total", "Workflows started"),
    "WorkflowCompleted": ("orchestrator_workflows_completed_total", "Workflows completed"),
    "WorkflowFailed": ("orchestrator_workflows_failed_total", "Workflows failed or timed out"),
    "WorkflowTerminated": ("orchestrator_workflows_terminated_total", "Workflows terminated"),
}
_OPERATIONS = {"WorkflowRestarted": "restart", "WorkflowRetried": "retry", "WorkflowRerun": "rerun"}


class Metrics(Collector):
    """The per-process state behind /metrics, and the collector that renders it."""

    def __init__(
        self,
        rt: Runtime,
        gate_status: GateStatusCache | None = None,
        presence: BackgroundPresence | None = None,
        health: HealthChecks | None = None,
    ) -> None:
        self.rt = rt
        self.health = health
        self.components: dict[str, ComponentHealth] = {}
        self.gate_status = gate_status
        self.presence = presence
        self.gates: dict[str, dict[str, Any]] = {}
        self.totals = Totals()
        self.lag: list[tuple[Any, ...]] = []
        self.open: list[tuple[str, str, int]] = []
        self.depths: dict[str, int] = {}
        self.task_types: list[str] = []
        self.up: dict[str, bool] = {}
        self.queues = QueueDepths(rt.settings, rt.settings.topic_prefix)
        self.lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    async def refresh(self) -> None:
        async with self.lock:  # one refresh at a time: cursors advance once per event
            self.up["postgres"] = await self._guard("postgres", self._read_postgres())
            self.up["kafka"] = await self._guard("kafka", self._read_kafka())
            if self.gate_status is not None:
                self.up["gate"] = await self._guard("gate", self._read_gates())
            if self.health is not None:
                self.components = await self.health.report()  # cached probes: cheap

    async def _guard(self, source: str, work: Any) -> bool:
        try:
            await work
            return True
        except Exception as exc:  # a scrape shows the source as down rather than failing
            log.warning("metrics: cannot read %s: %s", source, exc)
            return False

    async def _read_postgres(self) -> None:
        topic = self.rt.topics.events
        async with self.rt.pool.connection() as conn:
            await conn.set_autocommit(False)
            try:
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur = await conn.execute(
                    "SELECT topic, partition, next_offset, high_watermark, last_event_at, "
                    "extract(epoch FROM now() - updated_at)::float8 "
                    "FROM projector_offsets WHERE consumer = %s ORDER BY topic, partition",
                    (self.rt.projector_name,),
                )
                self.lag = list(await cur.fetchall())
                partitions = [row[1] for row in self.lag if row[0] == topic]
                await self.totals.advance(conn, topic, partitions)
                cur = await conn.execute(
                    "SELECT workflow_type, status, count(*) FROM workflows "
                    "WHERE status IN ('RUNNING', 'PAUSED') GROUP BY 1, 2"
                )
                self.open = list(await cur.fetchall())
                task_types = await conn.execute(
                    "SELECT name FROM definitions WHERE kind = 'task' ORDER BY name"
                )
                self.task_types = [r[0] for r in await task_types.fetchall()]
            finally:
                await conn.rollback()
                await conn.set_autocommit(True)

    async def _read_kafka(self) -> None:
        self.depths = await asyncio.to_thread(self.queues.get, self.task_types)

    async def _read_gates(self) -> None:
        assert self.gate_status is not None
        found = await asyncio.to_thread(self.gate_status.get)
        self.gates = {name: r for name, r in found.items() if not r.get("stale")}

    def collect(self) -> Iterator[Any]:
        yield from self._counters()
        yield from self._histograms()
        yield from self._gauges()
        yield from self._flow_gauges()
        yield from health_families(self.components)

    def _flow_gauges(self) -> Iterator[Any]:
        held = GaugeMetricFamily(
            "orchestrator_gate_held_tasks",
            "Tasks waiting in the task gate (over a rate or concurrency limit, or behind "
            "higher-priority ones)",
            labels=["task_type"],
        )
        out = GaugeMetricFamily(
            "orchestrator_gate_in_flight_tasks",
            "Tasks the gate released that have not ended yet",
            labels=["task_type"],
        )
        for name, record in sorted(self.gates.items()):
            held.add_metric([name], int(record.get("held", 0)))
            out.add_metric([name], int(record.get("inFlight", 0)))
        yield from (held, out)
        if self.presence is not None:
            yield self._pollers(self.presence)

    def _pollers(self, presence: BackgroundPresence) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "orchestrator_active_pollers",
            "Workers that polled the queue within the active-worker window",
            labels=["task_type", "domain"],
        )
        since = time.time() * 1000 - presence.window_ms
        for task_type in sorted(set(self.task_types) | set(self.gates)):
            active = {"": 0}
            for domain, _, last_poll in presence.pollers(task_type):
                key = domain or ""
                active[key] = active.get(key, 0) + (1 if last_poll > since else 0)
            for domain, n in sorted(active.items()):
                family.add_metric([task_type, domain], n)
        return family

    def _counters(self) -> Iterator[Any]:
        families: dict[str, CounterMetricFamily] = {}
        for event, (name, doc) in _COUNTERS.items():
            labels = ["workflow_type", "status"] if event == "WorkflowFailed" else ["workflow_type"]
            families[event] = CounterMetricFamily(name.removesuffix("_total"), doc, labels=labels)
        ops = CounterMetricFamily(
            "orchestrator_workflow_operations",
            "Restarts, retries and reruns",
            labels=["workflow_type", "operation"],
        )
        for (event, workflow_type, status), n in sorted(self.totals.workflow_events.items()):
            if event in _OPERATIONS:
                ops.add_metric([workflow_type, _OPERATIONS[event]], n)
            elif event == "WorkflowFailed":
                families[event].add_metric([workflow_type, status or "FAILED"], n)
            elif event in families:
                families[event].add_metric([workflow_type], n)
        yield from families.values()
        yield ops

    def _histograms(self) -> Iterator[Any]:
        docs = {
            "wait": ("orchestrator_task_queue_wait_seconds", "Task scheduled to picked up"),
            "run": ("orchestrator_task_execution_seconds", "Task picked up to completed or failed"),
        }
        for kind, (name, doc) in docs.items():
            family = HistogramMetricFamily(name, doc, labels=["task_type"])
            for (k, task_type), hist in sorted(self.totals.latency.items()):
                if k == kind:
                    family.add_metric([task_type], hist.cumulative(), hist.sum_ms / 1000)
            yield family

    def _gauges(self) -> Iterator[Any]:
        now_ms = time.time() * 1000
        lag = GaugeMetricFamily(
            "orchestrator_projection_lag_records",
            "Records behind the log end",
            labels=["topic", "partition"],
        )
        age = GaugeMetricFamily(
            "orchestrator_projection_commit_age_seconds",
            "Since the projector last committed",
            labels=["topic", "partition"],
        )
        event_age = GaugeMetricFamily(
            "orchestrator_projection_event_age_seconds",
            "Age of the newest event applied",
            labels=["topic", "partition"],
        )
        for topic, partition, next_offset, high, last_event_at, seconds in self.lag:
            labels = [topic, str(partition)]
            lag.add_metric(labels, max(0, (high or next_offset) - next_offset))
            age.add_metric(labels, seconds)
            if last_event_at:
                event_age.add_metric(labels, max(0.0, (now_ms - last_event_at) / 1000))
        open_ = GaugeMetricFamily(
            "orchestrator_workflows_open",
            "RUNNING and PAUSED workflows",
            labels=["workflow_type", "status"],
        )
        for workflow_type, status, n in self.open:
            open_.add_metric([workflow_type, status], n)
        depth = GaugeMetricFamily(
            "orchestrator_task_queue_depth", "Tasks waiting in each queue", labels=["task_type"]
        )
        for task_type, n in sorted(self.depths.items()):
            depth.add_metric([task_type], n)
        uncounted = GaugeMetricFamily(
            "orchestrator_metrics_uncounted_events", "Events this process has yet to count"
        )
        uncounted.add_metric([], self.totals.backlog)
        up = GaugeMetricFamily("orchestrator_metrics_source_up", "Source read", labels=["source"])
        for source, ok in sorted(self.up.items()):
            up.add_metric([source], 1 if ok else 0)
        yield from (lag, age, event_age, open_, depth, uncounted, up)


def _metrics(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> Metrics:
    state: Metrics | None = getattr(request.app.state, "metrics", None)
    if state is None:
        gates = gate_status_cache(request.app, rt.settings)
        state = Metrics(rt, gates, presence_of(request.app), health_checks(request, rt))
        request.app.state.metrics = state
    return state


@router.get("/metrics", response_class=PlainTextResponse)  # documents text/plain in /docs
async def metrics(state: Annotated[Metrics, Depends(_metrics)]) -> Response:
    await state.refresh()
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
