"""The health report as Prometheus gauges (rendered by /metrics, metrics.py).

| metric | labels | meaning |
|---|---|---|
| orchestrator_component_healthy | component | 1 when /health calls it healthy (kafka, postgres, processors, gates, projector) |
| orchestrator_service_up | component, instance | 1 while the instance's heartbeat is fresh (< 6 s) |
| orchestrator_service_heartbeat_age_seconds | component, instance | since its last heartbeat |
| orchestrator_service_partitions | component, instance | partitions it serves now |
| orchestrator_service_lag_records | component, instance | records of its partitions not read yet |
| orchestrator_partitions_unserved | component, topic | partitions no live instance serves |
| orchestrator_processor_executions | state | executions held in the live processors' memory: active (running, paused) or finished (within ORCHESTRATOR_FINISHED_RETENTION_S) |
| orchestrator_processor_executions_evicted | instance | finished executions a processor moved to the state store since it started |

``instance`` is the instance id (``ORCHESTRATOR_INSTANCE_ID``) or else the process's member id;
a dead instance stays listed (up 0) until the status topic forgets it (a day) or its slot's
next process replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from orchestrator.api.models import ComponentHealth

SERVICES = {"processors": "processor", "gates": "gate", "projector": "projector"}


def health_families(components: Mapping[str, ComponentHealth]) -> Iterator[GaugeMetricFamily]:
    healthy = GaugeMetricFamily(
        "orchestrator_component_healthy", "1 when /health calls it healthy", labels=["component"]
    )
    for name, component in sorted(components.items()):
        healthy.add_metric([name], 1 if component.healthy else 0)
    yield healthy
    labels = ["component", "instance"]
    up = GaugeMetricFamily("orchestrator_service_up", "Heartbeat fresh", labels=labels)
    age = GaugeMetricFamily(
        "orchestrator_service_heartbeat_age_seconds", "Since the last heartbeat", labels=labels
    )
    parts = GaugeMetricFamily(
        "orchestrator_service_partitions", "Partitions served now", labels=labels
    )
    lag = GaugeMetricFamily(
        "orchestrator_service_lag_records", "Records not read yet", labels=labels
    )
    unserved = GaugeMetricFamily(
        "orchestrator_partitions_unserved",
        "Partitions no live instance serves",
        labels=["component", "topic"],
    )
    executions = GaugeMetricFamily(
        "orchestrator_processor_executions",
        "Executions in the live processors' memory",
        labels=["state"],
    )
    evicted = GaugeMetricFamily(
        "orchestrator_processor_executions_evicted",
        "Finished executions moved to the state store since the processor started",
        labels=["instance"],
    )
    held = {"active": 0, "finished": 0}
    for name, kind in SERVICES.items():
        details: dict[str, Any] = components[name].details if name in components else {}
        for instance in details.get("instances", []):
            key = [kind, instance.get("instanceId") or instance["id"]]
            up.add_metric(key, 1 if instance["alive"] else 0)
            age.add_metric(key, instance["lastHeartbeatSecondsAgo"])
            parts.add_metric(key, sum(len(ps) for ps in instance["partitions"].values()))
            lag.add_metric(key, instance["lagRecords"])
            stats = instance.get("stats") or {}
            if kind == "processor" and instance["alive"] and stats:
                held["active"] += stats.get("executionsActive", 0)
                held["finished"] += stats.get("executionsFinished", 0)
                evicted.add_metric([key[1]], stats.get("executionsEvicted", 0))
        for topic, gaps in sorted(details.get("unservedPartitions", {}).items()):
            unserved.add_metric([kind, topic], len(gaps))
    for state, count in held.items():
        executions.add_metric([state], count)
    yield from (up, age, parts, lag, unserved, executions, evicted)
