"""`orchestrator bench`: the thin command (heavy imports inside the body)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.settings import settings_of


def bench(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(min=0.1, help="Workflow starts per second (open loop); the default is sustained on the 2-core dev machine (docs/benchmarks.md).")] = 30.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of load.")] = 30.0,
    burst: Annotated[int, typer.Option(min=0, help="Start N workflows at once instead.")] = 0,
    processors: Annotated[int, typer.Option(min=1, help="Processor subprocesses.")] = 1,
    worker_processes: Annotated[int, typer.Option(min=1, help="Worker subprocesses.")] = 1,
    worker_concurrency: Annotated[int, typer.Option(min=1, help="Threads per task type per worker process.")] = 8,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of every topic of the run.")] = 4,
    payload_bytes: Annotated[int, typer.Option(min=0, help="Size of each worker result (JSON bytes).")] = 1024,
    ack_after_ms: Annotated[int, typer.Option(min=0, help="The workers' acknowledgement delay (@worker_task ack_after_ms; 0: a TaskStarted for every task, as before ADR 0007).")] = 100,
    via_api: Annotated[bool, typer.Option("--via-api", help="Start through POST /api/workflow (runs an API and a projector).")] = False,
    http: Annotated[bool, typer.Option("--http", help="The Conductor path: starts through POST /api/workflow, HTTP-polling workers (batch poll count 10, timeout 100 ms, 2 pollers per task type per worker process), projector on.")] = False,
    with_projector: Annotated[bool, typer.Option("--with-projector", help="Run a projector and report its lag.")] = False,
    drain: Annotated[float, typer.Option(min=0, help="Seconds to wait for stragglers after the load.")] = 30.0,
    warmup: Annotated[int, typer.Option(min=0, help="Workflows run end to end before measuring.")] = 5,
    relay: Annotated[bool, typer.Option(help="Measure the raw Kafka relay baseline after the run.")] = True,
    soak: Annotated[bool, typer.Option("--soak", help="Endurance: sample every process's RSS and the processors' executions every 10 s (default duration 1800 s), then kill the processors and time a fresh one's recovery.")] = False,
    retention: Annotated[int | None, typer.Option(min=0, help="ORCHESTRATOR_FINISHED_RETENTION_S of the run's processors (default: the setting's).")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
    plot_file: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of the run here (matplotlib).")] = None,
) -> None:  # fmt: skip
    """Benchmark the whole runtime on the Orkes-like 13-step workload (needs the stack).

    Starts its own processors and SDK workers on a fresh topic prefix, drives open-loop starts,
    reads every figure back from the event log, then stops everything and deletes the run's
    topics; says whether the rate was sustained. ORCHESTRATOR_PROFILE=DIR samples every process
    of the run (orchestrator/bench/sampler.py). Example: orchestrator bench --rate 60 --json r.json
    """
    import json
    import os

    from orchestrator.bench.run import BenchConfig, run_bench

    if soak and ctx.get_parameter_source("duration").name == "DEFAULT":
        duration = 1800.0
    config = BenchConfig(
        rate=rate, duration_s=duration, burst=burst, processors=processors,
        worker_processes=worker_processes, worker_concurrency=worker_concurrency,
        partitions=partitions, payload_bytes=payload_bytes, ack_after_ms=ack_after_ms,
        via_api=via_api, http=http,
        with_projector=with_projector, drain_s=drain, warmup=warmup, relay=relay,
        stack_dir=Path(os.environ.get("ORCHESTRATOR_STACK_STATE_DIR") or ".stack"),
        soak=soak, retention_s=retention,
    )  # fmt: skip
    from orchestrator.gctune import tune_for_service

    tune_for_service()  # no long collector pauses in the load generator's sends
    try:
        result = run_bench(config, settings_of(ctx))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except RuntimeError as exc:
        typer.echo(f"orchestrator bench: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_file is not None:
        json_file.write_text(json.dumps(result, indent=2) + "\n")
    if plot_file is not None:
        from orchestrator.bench.plot import plot

        plot(result, plot_file)
