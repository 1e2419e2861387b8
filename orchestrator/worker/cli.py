"""`orchestrator worker`: run @worker_task functions (and/or the built-in system executors)."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from orchestrator.settings import settings_of


def worker(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODULE[:FUNCTION]...",
            help="Modules whose @worker_task functions to run, or single functions.",
            show_default=False,
        ),
    ] = None,
    system: Annotated[
        bool,
        typer.Option("--system", help="Run the built-in HTTP, EVENT and KAFKA_PUBLISH executors."),
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Override every worker's concurrency.", show_default=False),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            help="Poll this domain's task topics (Conductor's taskToDomain).", show_default=False
        ),
    ] = None,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds running tasks get to finish on shutdown.")
    ] = 30.0,
) -> None:
    """Poll task topics and run worker functions until SIGTERM / Ctrl-C (then stop gracefully).

    Start several processes with the same workers to share the load: each task type is one
    consumer group.
    """
    from orchestrator.worker.group import WorkerStartupError, run_workers
    from orchestrator.worker.registry import WorkerLoadError, load_workers

    if not targets and not system:
        _fail("name at least one MODULE[:FUNCTION], or --system")
    sys_path_has_cwd()
    try:
        specs = load_workers(targets or [])
    except WorkerLoadError as exc:
        _fail(str(exc))
    except Exception as exc:  # the user's module failed while importing
        _fail(f"cannot load {' '.join(targets or [])}: {type(exc).__name__}: {exc}")
    settings = settings_of(ctx)
    if system:
        from orchestrator.worker.system import system_workers

        specs += system_workers(settings)
    specs = [s.with_overrides(concurrency, domain) for s in specs]

    def announce(group: object) -> None:
        typer.echo(f"worker {settings.worker_id} on {settings.kafka_bootstrap}, polling:")
        for line in group.describe():  # type: ignore[attr-defined]
            typer.echo(f"  {line}")

    from orchestrator.gctune import tune_for_service

    tune_for_service()  # a service process from here on (the user's module is imported)
    try:
        run_workers(*specs, settings=settings, grace_seconds=grace, on_start=announce)
    except WorkerStartupError as exc:
        _fail(f"cannot start: {exc}", code=1)
    except Exception as exc:  # e.g. Kafka unreachable
        from orchestrator.kafka.admin import KafkaUnavailable

        if isinstance(exc, KafkaUnavailable):
            _fail(str(exc), code=1)
        raise


def sys_path_has_cwd() -> None:
    """`orchestrator worker my_workers` must find my_workers.py in the current directory."""
    import os
    import sys

    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"orchestrator worker: {message}", err=True)
    raise typer.Exit(code)
