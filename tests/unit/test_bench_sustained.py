"""The bench's verdict: a rate is sustained when all completed and latency does not grow."""

from __future__ import annotations

from orchestrator.bench.load import LoadResult
from orchestrator.bench.observe import Observations
from orchestrator.bench.report import sustained


def _run(latencies_ms: list[float], missing: int = 0) -> tuple[Observations, LoadResult, int]:
    obs, load = Observations(), LoadResult()
    for i, latency in enumerate(latencies_ms):
        wid = f"wf-{i}"
        load.intended_ms[wid] = 1_000_000.0 + i * 20
        obs.completed_at[wid] = int(load.intended_ms[wid] + latency)
    for j in range(missing):
        load.intended_ms[f"lost-{j}"] = 1_000_000.0 + (len(latencies_ms) + j) * 20
    return obs, load, missing


def test_flat_latency_with_everything_completed_is_sustained() -> None:
    obs, load, incomplete = _run([900, 1000, 950, 1100, 1000, 980, 1020, 990, 1010])
    assert sustained(obs, load, incomplete, burst=False)["sustained"] is True


def test_latency_growing_with_the_start_time_is_not_sustained() -> None:
    obs, load, incomplete = _run([900, 1000, 950, 2000, 2500, 3000, 4000, 4500, 5000])
    verdict = sustained(obs, load, incomplete, burst=False)
    assert verdict["sustained"] is False
    assert verdict["workflow_latency_p50_last_third_ms"] == 4500


def test_a_workflow_left_after_the_drain_is_not_sustained() -> None:
    obs, load, incomplete = _run([1000] * 9, missing=1)
    assert sustained(obs, load, incomplete, burst=False)["sustained"] is False


def test_a_burst_has_no_verdict() -> None:
    obs, load, incomplete = _run([1000] * 9)
    assert sustained(obs, load, incomplete, burst=True)["sustained"] is None
