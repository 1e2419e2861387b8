"""`orchestrator processor` and `orchestrator serve`: thin entry points (heavy imports inside)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.settings import settings_of


def processor(ctx: typer.Context) -> None:
    """Run a stream processor: commands in; events, task dispatches and timers out.

    Start as many as you like: they share the commands topic's partitions through Kafka's
    consumer group and take over from each other on rebalance.
    """
    from orchestrator.engine.run import run_processor

    run_processor(settings_of(ctx))


def serve(
    ctx: typer.Context,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also run the demo worker, register the demo definitions "
            "and start one demo workflow.",
        ),
    ] = False,
) -> None:
    """Run processor, gate, projector, API, the built-in system-task executors and the event
    handlers together.

    Each runs as its own child process (the same as `orchestrator processor`, `gate`,
    `projector`, `api`, `worker --system`, `event-handlers`); Ctrl-C stops them all.
    """
    from orchestrator.engine.supervisor import serve as run_serve

    raise typer.Exit(run_serve(settings_of(ctx), demo=demo))
