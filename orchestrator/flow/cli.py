"""`orchestrator gate`: the task gate process (rate limits, concurrency limits, priority)."""

from __future__ import annotations

import typer

from orchestrator.settings import settings_of


def gate(ctx: typer.Context) -> None:
    """Run a task gate: holds tasks of rate- or concurrency-limited types and hands them out as
    the limits allow, highest workflow priority first (ADR 0006).

    Start one or more (`orchestrator serve` starts one): they share the gate topic's partitions
    through a consumer group, one owner per task type, and take over from each other.
    """
    from orchestrator.flow.run import run_gate

    raise typer.Exit(run_gate(settings_of(ctx)))
