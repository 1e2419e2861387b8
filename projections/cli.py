"""``orchestrator projector``: run the projector (events -> Postgres read model)."""

from __future__ import annotations

import typer

from orchestrator.settings import settings_of

# Test hook (tests/integration/test_projector.py): when set to a file path, the projector
# creates that file and then sleeps inside the transaction of its first batch with events,
# after the rows are written and before COMMIT, so a test can kill -9 it right there.
PAUSE_BEFORE_COMMIT_ENV = "PROJECTOR_TEST_PAUSE_BEFORE_COMMIT"


def projector(ctx: typer.Context) -> None:
    """Run the projector: events and definitions topics -> Postgres, rows and offsets in one
    transaction (migrates the schema first)."""
    import os

    from orchestrator.kafka.admin import ensure_topics
    from orchestrator.kafka.topics import core_topics
    from orchestrator.standby import hold_if_standby
    from projections.projector import Projector, pause_before_commit

    hold_if_standby()  # a spare of `orchestrator serve` waits here, imports done
    settings = settings_of(ctx)
    report = ensure_topics(settings, core_topics(settings))
    if not report.ok:
        typer.echo("error: " + "; ".join(report.errors), err=True)
        raise typer.Exit(1)
    pause_file = os.environ.get(PAUSE_BEFORE_COMMIT_ENV)
    hook = pause_before_commit(pause_file) if pause_file else None
    runner = Projector(settings, before_commit=hook)
    runner.install_signal_handlers()
    runner.run()
