"""Turn the observations of a run into figures: rates, latency percentiles, a table, JSON."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from orchestrator.bench.load import LoadResult
from orchestrator.bench.observe import Observations
from orchestrator.bench.workload import HANDOFFS

PERCENTILES = (50, 95, 99)


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {f"p{p}": None for p in PERCENTILES} | {"max": None, "count": 0}
    out: dict[str, float | None] = {}
    for p in PERCENTILES:
        index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
        out[f"p{p}"] = round(ordered[index], 1)
    return out | {"max": round(ordered[-1], 1), "count": len(ordered)}


def window_buckets(t0_ms: float, t_end_ms: float) -> range:
    """Whole seconds inside [t0, t_end): rates are counted over these only."""
    first = math.ceil(t0_ms / 1000)
    last = math.floor(t_end_ms / 1000)
    return range(first, max(first + 1, last))


def rate(counter: Counter[int], buckets: range) -> float:
    return round(sum(counter[b] for b in buckets) / len(buckets), 1)


def start_latencies(obs: Observations, load: LoadResult) -> dict[str, float]:
    return {w: obs.started_at[w] - t for w, t in load.intended_ms.items() if w in obs.started_at}


def workflow_latencies(obs: Observations, load: LoadResult) -> dict[str, float]:
    return {
        w: obs.completed_at[w] - t for w, t in load.intended_ms.items() if w in obs.completed_at
    }


def handoffs(obs: Observations) -> list[tuple[str, int, float]]:
    """(step ref, when it was picked up, ms from its triggering result(s) to its pickup)."""
    out = []
    for (root, ref), picked in obs.picked.items():
        triggers = HANDOFFS.get(ref)
        if not triggers:
            continue
        done = [obs.results[(root, t)] for t in triggers if (root, t) in obs.results]
        if done:
            out.append((ref, picked, float(max(0, picked - max(done)))))
    return out


SUSTAINED_GROWTH = 1.25  # last third's workflow latency p50 may be this much of the first's...
SUSTAINED_SLACK_MS = 250.0  # ...plus this: noise of a shared machine, not a growing queue


def sustained(obs: Observations, load: LoadResult, incomplete: int, burst: bool) -> dict[str, Any]:
    """Did the run keep up with its offered rate? Every workflow completed (within the drain),
    and the workflow latency of the last third of the starts is not growing over the first
    third's: a queue that grows shows as latency that grows with the start time."""
    if burst or not load.intended_ms:
        return {"sustained": None, "reason": "a burst has no rate to sustain"}
    latencies = workflow_latencies(obs, load)
    ordered = sorted(load.intended_ms.items(), key=lambda kv: kv[1])
    third = max(1, len(ordered) // 3)
    first = [latencies[w] for w, _ in ordered[:third] if w in latencies]
    last = [latencies[w] for w, _ in ordered[-third:] if w in latencies]
    first_p50 = percentiles(first)["p50"]
    last_p50 = percentiles(last)["p50"]
    flat = (first_p50 is not None and last_p50 is not None
            and last_p50 <= SUSTAINED_GROWTH * first_p50 + SUSTAINED_SLACK_MS)  # fmt: skip
    return {
        "sustained": bool(flat and incomplete == 0),
        "workflow_latency_p50_first_third_ms": first_p50,
        "workflow_latency_p50_last_third_ms": last_p50,
        "incomplete_after_drain": incomplete,
    }


def summarize(
    obs: Observations,
    load: LoadResult,
    t_end_ms: float,
    settings: dict[str, Any],
    cpu: dict[str, float],
    cpu_elapsed_s: float,
    relay_per_s: float | None,
    projection_lag: list[float] | None,
) -> dict[str, Any]:
    buckets = window_buckets(load.t0_ms, t_end_ms)
    seconds = len(buckets)
    # Counts are of the measured workflows only (the warm-up's are left out).
    started = [obs.started_at[w] for w in load.intended_ms if w in obs.started_at]
    completed = [obs.completed_at[w] for w in load.intended_ms if w in obs.completed_at]
    failed = sum(1 for w in load.intended_ms if w in obs.failed)
    started_by_end = sum(1 for t in started if t < t_end_ms)
    completed_by_end = sum(1 for t in completed if t < t_end_ms)
    hand = handoffs(obs)
    by_step: dict[str, list[float]] = defaultdict(list)
    for ref, _, ms in hand:
        by_step[ref].append(ms)
    events_mb = sum(obs.event_bytes[b] for b in buckets) / 1e6
    incomplete = load.sent - len(completed) - failed
    verdict = sustained(obs, load, incomplete, bool(settings.get("burst")))
    return {
        "settings": settings,
        "window_s": seconds,
        "workflows_sent": load.sent,
        "send_errors": load.errors,
        "workflows_started": len(started),
        "workflows_completed": len(completed),
        "workflows_failed": failed,
        "backlog_at_end_of_load": started_by_end - completed_by_end,
        "not_started_at_end_of_load": load.sent - started_by_end,
        "incomplete_after_drain": incomplete,
        "sustained": verdict["sustained"],
        "sustained_check": verdict,
        "starts_per_s": rate(obs.starts, buckets),
        "task_executions_per_s": rate(obs.task_results, buckets),
        "workflows_completed_per_s": rate(obs.completions, buckets),
        "events_per_s": rate(obs.events, buckets),
        "payload_mb_per_s": round(sum(obs.result_bytes[b] for b in buckets) / 1e6 / seconds, 3),
        "event_log_mb_per_s": round(events_mb / seconds, 3),
        "start_latency_ms": percentiles(start_latencies(obs, load).values()),
        "dispatch_latency_ms": percentiles(ms for _, _, ms in hand),
        "dispatch_latency_by_step_ms": {ref: percentiles(v) for ref, v in sorted(by_step.items())},
        "workflow_latency_ms": percentiles(workflow_latencies(obs, load).values()),
        "projection_lag_ms": None if projection_lag is None else percentiles(projection_lag),
        "cpu_seconds_by_component": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_measured_s": round(cpu_elapsed_s, 1),
        "cpu_cores_by_component": {k: round(v / cpu_elapsed_s, 2) for k, v in cpu.items()},
        "kafka_relay_baseline_events_per_s": relay_per_s,
        "events_per_s_share_of_relay": (
            round(rate(obs.events, buckets) / relay_per_s, 4) if relay_per_s else None
        ),
        # CPU per workflow is what a machine of N cores divides (meaningful when sustained).
        "cpu_ms_per_completed_workflow_by_component": _per_workflow(
            cpu, rate(obs.completions, buckets) * cpu_elapsed_s
        ),
    }


def _per_workflow(cpu: dict[str, float], workflows: float) -> dict[str, float] | None:
    if workflows <= 0:
        return None
    return {k: round(v / workflows * 1000, 2) for k, v in cpu.items()}


def timeline(obs: Observations, load: LoadResult) -> list[dict[str, Any]]:
    """Per 1 s bucket: throughputs, and latency percentiles of what happened in that second."""
    start = defaultdict(list)
    whole = defaultdict(list)
    for w, ms in start_latencies(obs, load).items():
        start[int(load.intended_ms[w] // 1000)].append(ms)
    for w, ms in workflow_latencies(obs, load).items():
        whole[int(load.intended_ms[w] // 1000)].append(ms)
    dispatch = defaultdict(list)
    for _, picked, ms in handoffs(obs):
        dispatch[picked // 1000].append(ms)
    seconds = set(obs.events) | set(start)
    if not seconds:
        return []
    first = int(load.t0_ms // 1000)
    return [
        {
            "t": b - first,
            "starts": obs.starts[b],
            "completed": obs.completions[b],
            "task_executions": obs.task_results[b],
            "events": obs.events[b],
            "start_latency_ms": percentiles(start[b]),
            "dispatch_latency_ms": percentiles(dispatch[b]),
            "workflow_latency_ms": percentiles(whole[b]),
        }
        for b in range(first, max(seconds) + 1)
    ]


def _verdict(result: dict[str, Any]) -> str:
    check = result.get("sustained_check") or {}
    if result.get("sustained") is None:
        return "n/a (burst)"
    word = "YES" if result["sustained"] else "NO: this rate is above what this machine sustains"
    return (f"{word} (workflow p50 first third {check.get('workflow_latency_p50_first_third_ms')} "
            f"ms, last third {check.get('workflow_latency_p50_last_third_ms')} ms, "
            f"{check.get('incomplete_after_drain')} incomplete after the drain)")  # fmt: skip


def table(result: dict[str, Any]) -> str:
    def pct(key: str) -> str:
        v = result.get(key)
        if not v or v.get("p50") is None:
            return "-"
        return f"{v['p50']:.0f} / {v['p95']:.0f} / {v['p99']:.0f} ms (max {v['max']:.0f})"

    relay = result["kafka_relay_baseline_events_per_s"]
    rows = [
        ("window", f"{result['window_s']} s"),
        ("workflows sent / completed / failed",
         f"{result['workflows_sent']} / {result['workflows_completed']} / {result['workflows_failed']}"),
        ("starts/s", result["starts_per_s"]),
        ("task executions/s (worker results)", result["task_executions_per_s"]),
        ("workflows completed/s", result["workflows_completed_per_s"]),
        ("backlog at end of load (started, not completed)", result["backlog_at_end_of_load"]),
        ("not started at end of load", result["not_started_at_end_of_load"]),
        ("events/s", result["events_per_s"]),
        ("payload MB/s (worker results) / event log MB/s",
         f"{result['payload_mb_per_s']} / {result['event_log_mb_per_s']}"),
        ("start latency p50/p95/p99", pct("start_latency_ms")),
        ("dispatch latency p50/p95/p99", pct("dispatch_latency_ms")),
        ("workflow latency p50/p95/p99", pct("workflow_latency_ms")),
        ("projection lag p50/p95/p99", pct("projection_lag_ms")),
        ("kafka relay baseline msgs/s", "-" if relay is None else f"{relay:.0f}"),
        ("events/s as a share of the relay", "-" if not relay else
         f"{100 * result['events_per_s'] / relay:.1f} %"),
        ("sustained (all completed, latency not growing)", _verdict(result)),
    ]  # fmt: skip
    for name, seconds in sorted(result["cpu_seconds_by_component"].items(), key=lambda kv: -kv[1]):
        cores = result["cpu_cores_by_component"][name]
        per = (result.get("cpu_ms_per_completed_workflow_by_component") or {}).get(name)
        each = "" if per is None else f", {per:.1f} ms/workflow"
        rows.append((f"cpu {name}", f"{seconds:.1f} s ({cores:.2f} cores{each})"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
