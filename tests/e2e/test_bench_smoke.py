"""`orchestrator bench` end to end on the real stack: a tiny run produces every figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.kafka.admin import admin_client
from tests import readmodel_support as support
from tests.runtime_support import bootstrap, kafka

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.kafka]

PERCENTILE_KEYS = ("start_latency_ms", "dispatch_latency_ms", "workflow_latency_ms")
RATE_KEYS = ("starts_per_s", "task_executions_per_s", "workflows_completed_per_s",
             "events_per_s", "payload_mb_per_s", "kafka_relay_baseline_events_per_s")  # fmt: skip


def _bench_topics() -> set[str]:
    return {t for t in admin_client(kafka(), 10).list_topics(timeout=10).topics
            if t.startswith("bench-")}  # fmt: skip


@pytest.mark.timeout(150)
def test_tiny_run_reports_every_figure_and_cleans_up(tmp_path: Path) -> None:
    before = _bench_topics()
    out = tmp_path / "bench.json"
    png = tmp_path / "bench.png"
    base = support.database_url()
    schema = support.create_schema(base)  # the run's read model stays in a schema of its own
    env = dict(
        os.environ,
        ORCHESTRATOR_KAFKA_BOOTSTRAP=bootstrap(),
        ORCHESTRATOR_DATABASE_URL=support.schema_url(base, schema),
    )
    try:
        proc = _run(env, out, png)
    finally:
        support.drop_schema(base, schema)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())

    assert result["workflows_sent"] == 50
    assert result["workflows_completed"] > 0
    assert result["workflows_failed"] == 0
    for key in RATE_KEYS:
        assert result[key] > 0, key
    # 7 worker tasks per workflow: the task rate follows the workflow rate
    assert 3 * result["workflows_completed_per_s"] < result["task_executions_per_s"]
    for key in PERCENTILE_KEYS:
        p = result[key]
        assert 0 < p["p50"] <= p["p95"] <= p["p99"], (key, p)
    # the whole workflow takes longer than its start and than one hand-off
    assert result["workflow_latency_ms"]["p50"] > result["start_latency_ms"]["p50"]
    assert result["workflow_latency_ms"]["p50"] > result["dispatch_latency_ms"]["p50"]
    assert result["projection_lag_ms"]["count"] > 0
    cpu = result["cpu_seconds_by_component"]
    assert cpu["processor"] > 0 and cpu["worker"] > 0 and cpu["kafka broker"] > 0
    assert len(result["timeline"]) >= 5
    assert png.stat().st_size > 10_000
    assert _bench_topics() <= before, "the run's topics were not deleted"


def _run(env: dict[str, str], out: Path, png: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "bench", "--rate", "10", "--duration", "5",
         "--processors", "1", "--worker-processes", "1", "--warmup", "2", "--drain", "30",
         "--with-projector", "--json", str(out), "--plot", str(png)],
        env=env, capture_output=True, text=True, timeout=140,
    )  # fmt: skip


@pytest.mark.timeout(150)
def test_tiny_http_run_goes_through_the_api_and_http_polling_workers(tmp_path: Path) -> None:
    """--http: REST starts, workers polling over HTTP (no Kafka SDK worker), projector on."""
    out = tmp_path / "bench-http.json"
    base = support.database_url()
    schema = support.create_schema(base)
    env = dict(
        os.environ,
        ORCHESTRATOR_KAFKA_BOOTSTRAP=bootstrap(),
        ORCHESTRATOR_DATABASE_URL=support.schema_url(base, schema),
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator", "bench", "--http", "--rate", "5",
             "--duration", "4", "--warmup", "2", "--drain", "40", "--no-relay",
             "--json", str(out)],
            env=env, capture_output=True, text=True, timeout=140,
        )  # fmt: skip
    finally:
        support.drop_schema(base, schema)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["settings"]["http"] is True and result["settings"]["via_api"] is True
    assert (result["workflows_sent"], result["workflows_failed"]) == (20, 0)
    assert result["workflows_completed"] == 20
    assert 3 * result["workflows_completed_per_s"] < result["task_executions_per_s"]
    cpu = result["cpu_seconds_by_component"]
    assert cpu["api"] > 0 and cpu["http-worker"] > 0 and cpu["projector"] > 0
    assert "worker" not in cpu  # no Kafka SDK worker ran
    assert result["projection_lag_ms"]["count"] > 0
