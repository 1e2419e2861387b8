"""One benchmark run, start to finish; everything it starts is stopped and deleted at the end."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from orchestrator.bench import setup
from orchestrator.bench.load import LoadResult, Schedule, run_api_load, run_kafka_load, start_load
from orchestrator.bench.observe import EventObserver, wait_quiet
from orchestrator.bench.procs import Fleet, cpu_snapshot, stack_pids
from orchestrator.bench.report import summarize, table, timeline
from orchestrator.bench.sampler import start_if_asked
from orchestrator.bench.soak import SoakSampler
from orchestrator.bench.soak import recover as soak_recover
from orchestrator.bench.soak import summary as soak_summary
from orchestrator.bench.workload import TASK_TYPES, WORKFLOW
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings, load_settings

PROGRESS_EVERY_S = 3.0
WARMUP_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class BenchConfig:
    rate: float = 30.0
    duration_s: float = 30.0
    burst: int = 0
    processors: int = 1
    worker_processes: int = 1
    worker_concurrency: int = 8
    partitions: int = 4
    payload_bytes: int = 1024
    ack_after_ms: int = 100  # the SDK's default
    via_api: bool = False
    http: bool = False  # the Conductor path: REST starts, HTTP-polling workers, projector on
    with_projector: bool = False
    drain_s: float = 30.0
    warmup: int = 5
    relay: bool = True
    stack_dir: Path = Path(".stack")
    soak: bool = False  # RSS and executions sampled, then a fresh processor's recovery timed
    retention_s: int | None = None  # ORCHESTRATOR_FINISHED_RETENTION_S of the run's processors
    api_key: str | None = None  # --via-api: an operator key of the run, revoked at its end
    worker_key: str | None = None  # --http: the HTTP workers' key of the run, revoked at its end


def say(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def run_bench(cfg: BenchConfig, base: Settings) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    if cfg.http:
        cfg = replace(cfg, via_api=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"orchestrator-{prefix}-"))
    projector = cfg.with_projector or cfg.via_api  # the API reads definitions from Postgres
    kafka = {n: getattr(base, n) for n in Settings.field_names() if n.startswith("kafka_")}
    settings = load_settings(
        overrides={
            **kafka,  # the cluster and its security (TLS, SASL)
            "database_url": base.database_url,
            "topic_prefix": prefix,
            "partitions": str(cfg.partitions),
        }
    )
    port = setup.free_port()
    env = setup.run_env(settings, prefix, workdir / "state", cfg.payload_bytes,
                        cfg.ack_after_ms, cfg.partitions, port)  # fmt: skip
    if cfg.retention_s is not None:
        env["ORCHESTRATOR_FINISHED_RETENTION_S"] = str(cfg.retention_s)
    fleet = Fleet(env, workdir)
    observer: EventObserver | None = None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    ok = False
    say(f"run {prefix}; logs in {workdir}")
    start_if_asked("bench")  # ORCHESTRATOR_PROFILE=DIR: every process of the run is sampled
    try:
        setup.create_topics(settings, TASK_TYPES)
        setup.publish_definitions(settings)
        if cfg.via_api:
            cfg = replace(cfg, api_key=setup.create_api_key(settings))
        if cfg.http:
            cfg = replace(cfg, worker_key=setup.create_api_key(settings, "worker"))
        setup.start_processes(fleet, cfg.processors, cfg.worker_processes,
                              cfg.worker_concurrency, projector, cfg.via_api,
                              cfg.worker_key)  # fmt: skip
        api_url = env["ORCHESTRATOR_API_URL"]
        if cfg.via_api:
            setup.wait_for_api_definitions(api_url, WORKFLOW, cfg.api_key)
        topics = TopicNames(prefix)
        observer = EventObserver(settings, topics.events, f"{prefix}-observer",
                                 track_offsets=projector)  # fmt: skip
        observer.start()
        _warm_up(cfg, settings, topics, observer, api_url, stop)
        result = _measure(cfg, settings, fleet, observer, api_url, stop, projector)
        ok = True
        return result
    except KeyboardInterrupt:
        say("interrupted: stopping everything and deleting the run's topics")
        raise
    finally:
        stop.set()
        if observer is not None:
            observer.stop()
        fleet.stop()
        for key in (cfg.api_key, cfg.worker_key):
            if key is not None:
                setup.revoke_api_key(settings, key)
        deleted = setup.delete_run_topics(settings, prefix)
        setup.drop_state_store(settings.database_url, env["ORCHESTRATOR_STATE_STORE_SCHEMA"])
        say(f"stopped {len(fleet.children)} processes, deleted {deleted} topics")
        signal.signal(signal.SIGTERM, previous)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"logs kept in {workdir}")


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _warm_up(cfg: BenchConfig, settings: Settings, topics: TopicNames, observer: EventObserver,
             api_url: str, stop: threading.Event) -> None:  # fmt: skip
    """A few workflows end to end before measuring: proves the pipeline and warms it."""
    if cfg.warmup <= 0:
        return
    load = LoadResult(t0_ms=time.time() * 1000)
    _run_load(cfg, settings, topics, api_url, Schedule(0, 0, burst=cfg.warmup), load, stop).join()
    wait_quiet(observer, cfg.warmup, WARMUP_TIMEOUT_S)
    with observer.lock:
        done = sum(1 for w in load.intended_ms if w in observer.obs.completed_at)
    if done < cfg.warmup:
        raise RuntimeError(f"warm-up: {done} of {cfg.warmup} workflows completed")
    say(f"warm-up: {cfg.warmup} workflows completed")


def _run_load(cfg: BenchConfig, settings: Settings, topics: TopicNames, api_url: str,
              schedule: Schedule, load: LoadResult, stop: threading.Event) -> threading.Thread:  # fmt: skip
    if cfg.via_api:
        return start_load(partial(run_api_load, key=cfg.api_key), api_url, schedule, load, stop)
    return start_load(run_kafka_load, settings, topics.commands, schedule, load, stop)


def _measure(cfg: BenchConfig, settings: Settings, fleet: Fleet, observer: EventObserver,
             api_url: str, stop: threading.Event, projector: bool) -> dict[str, Any]:  # fmt: skip
    schedule = Schedule(cfg.rate, cfg.duration_s, cfg.burst)
    components = fleet.pids_by_component() | stack_pids(cfg.stack_dir)
    load = LoadResult(t0_ms=(time.time() + 0.2) * 1000)
    cpu0, clock0 = cpu_snapshot(components), time.monotonic()
    thread = _run_load(
        cfg, settings, TopicNames(settings.topic_prefix), api_url, schedule, load, stop
    )
    lag = _LagSampler(settings, observer) if projector else None
    soak = SoakSampler(fleet, stack_pids(cfg.stack_dir)) if cfg.soak else None
    if soak is not None:
        soak.start()
    say(f"load: {schedule.count} workflows" + (" in a burst" if cfg.burst else
        f" at {cfg.rate:g}/s for {cfg.duration_s:g} s"))  # fmt: skip
    end_ms = load.t0_ms + (0 if cfg.burst else cfg.duration_s * 1000)
    _progress_until(lambda: thread.is_alive() or time.time() * 1000 < end_ms,
                    load, observer, fleet, lag)  # fmt: skip
    if cfg.burst:  # a burst's window is until the last workflow is done
        _progress_until(lambda: _incomplete(load, observer) > 0, load, observer, fleet, lag,
                        time.monotonic() + cfg.drain_s)  # fmt: skip
        end_ms = time.time() * 1000
    cpu1, clock1 = cpu_snapshot(components), time.monotonic()
    if not cfg.burst:
        say("load done; draining")
        _progress_until(lambda: _incomplete(load, observer) > 0, load, observer, fleet, lag,
                        time.monotonic() + cfg.drain_s)  # fmt: skip
    thread.join(5)
    soaked = _soak_end(cfg, settings, soak, fleet, observer, api_url, stop) if soak else None
    with observer.lock:
        obs = observer.obs
        fleet.stop()  # the relay baseline gets the machine to itself
        relay = _relay(cfg, settings, obs) if cfg.relay else None
        cpu = {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}
        lags = lag.samples if lag else None
        result = summarize(obs, load, end_ms, _settings_of(cfg), cpu, clock1 - clock0, relay, lags)
        result["timeline"] = timeline(obs, load)
        if soaked is not None:
            result["soak"] = soaked
    print(table(result), flush=True)
    if soaked is not None:
        print(soak_table(soaked), flush=True)
    return result


def _soak_end(cfg: BenchConfig, settings: Settings, soak: SoakSampler, fleet: Fleet,
              observer: EventObserver, api_url: str, stop: threading.Event) -> dict[str, Any]:  # fmt: skip
    """Stop sampling; then kill the processors and time a fresh one's recovery, up to the first
    workflow started after it completing."""
    soak.stop()
    samples = soak.samples
    last_s = min(1200.0, max(60.0, (samples[-1]["t_s"] if samples else 0) * 2 / 3))
    say("soak: killing the processors (SIGKILL) and timing a fresh one's recovery")
    spawned = time.monotonic()
    _fresh, recovery = soak_recover(fleet)
    say(f"soak: recovered in {recovery['spawn_to_recovered_s']} s "
        f"({recovery['records_read']} records, {recovery['mb_read']} MB read)")  # fmt: skip
    probe = LoadResult(t0_ms=time.time() * 1000)
    topics = TopicNames(settings.topic_prefix)
    _run_load(cfg, settings, topics, api_url, Schedule(0, 0, burst=1), probe, stop).join()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with observer.lock:
            if all(w in observer.obs.completed_at for w in probe.intended_ms):
                break
        time.sleep(0.05)
    else:
        raise RuntimeError("soak: no workflow completed within 120 s after the recovery")
    recovery["spawn_to_new_workflow_completed_s"] = round(time.monotonic() - spawned, 2)
    return {
        "samples": samples,
        "rss_last_window": soak_summary(samples, last_s),
        "recovery": recovery,
        "retention_s": cfg.retention_s,
    }


def soak_table(soaked: dict[str, Any]) -> str:
    rows = []
    window = soaked["rss_last_window"]
    span = window.get("window_s", 0)
    for component, v in window.items():
        if component == "window_s":
            continue
        rows.append((f"rss {component} (last {span:.0f} s)",
                     f"{v['first_mb']:.0f} -> {v['last_mb']:.0f} MB, min {v['min_mb']:.0f} max "
                     f"{v['max_mb']:.0f} (spread {v['spread_pct']} %), run peak "
                     f"{v['peak_over_run_mb']:.0f} MB"))  # fmt: skip
    last = soaked["samples"][-1]["executions"] if soaked["samples"] else {}
    rows.append(("processor executions at the end",
                 f"{last.get('active', '-')} active, {last.get('finished', '-')} finished, "
                 f"{last.get('evicted', '-')} evicted"))  # fmt: skip
    r = soaked["recovery"]
    rows.append(
        ("fresh processor: spawn to partitions recovered", f"{r['spawn_to_recovered_s']} s")
    )
    rows.append(("  of which the changelog read", f"{r['changelog_read_s']} s: "
                 f"{r['records_read']} records, {r['mb_read']} MB, {r['running_loaded']} running "
                 f"+ {r['finished_loaded']} finished loaded"))  # fmt: skip
    rows.append(
        (
            "fresh processor: spawn to a new workflow completed",
            f"{r['spawn_to_new_workflow_completed_s']} s",
        )
    )
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _incomplete(load: LoadResult, observer: EventObserver) -> int:
    with observer.lock, load.lock:
        o = observer.obs
        return sum(1 for w in load.intended_ms if w not in o.completed_at and w not in o.failed)


def _progress_until(busy: Any, load: LoadResult, observer: EventObserver, fleet: Fleet,
                    lag: _LagSampler | None, deadline: float | None = None) -> None:  # fmt: skip
    last = time.monotonic()
    while busy() and (deadline is None or time.monotonic() < deadline):
        time.sleep(0.5 if lag is None else lag.sample_wait())
        dead = fleet.check_alive()
        if dead:
            raise RuntimeError(f"a process died during the run: {', '.join(dead)}")
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            started, completed, results, events = observer.snapshot()
            lag_text = f", projection lag {lag.samples[-1]:.0f} ms" if lag and lag.samples else ""
            say(f"sent {load.sent}, started {started}, completed {completed}, "
                f"task results {results}, events {events}{lag_text}")  # fmt: skip


def _relay(cfg: BenchConfig, settings: Settings, obs: Any) -> float:
    from orchestrator.bench.relay import relay_baseline

    count = sum(obs.events.values())
    size = sum(obs.event_bytes.values()) // max(1, count)
    say(f"kafka relay baseline: {count} messages of {size} B")
    return round(relay_baseline(settings, settings.topic_prefix, count, size,
                                cfg.partitions))  # fmt: skip


def _settings_of(cfg: BenchConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()}


class _LagSampler:
    """Projection lag in ms, once a second: how old is the oldest event not yet projected."""

    def __init__(self, settings: Settings, observer: EventObserver) -> None:
        from orchestrator.bench.lag import ProjectionLag

        self.probe = ProjectionLag(settings, observer)
        self.samples: list[float] = []
        self._next = time.monotonic()

    def sample_wait(self) -> float:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + 1.0
            value = self.probe.lag_ms()
            if value is not None:
                self.samples.append(value)
        return 0.5
