"""``orchestrator projections ...``: maintenance of the Postgres read model."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.settings import settings_of

projections = typer.Typer(
    help="Maintenance of the Postgres read model.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@projections.command("rebuild")
def rebuild(
    ctx: typer.Context,
    drop_old: Annotated[
        bool,
        typer.Option("--drop-old", help="Drop the previous tables after the switch."),
    ] = False,
    switch_lag: Annotated[
        int,
        typer.Option(
            min=0, help="Records left to the log end when writers are paused for the switch."
        ),
    ] = 1000,
) -> None:
    """Rebuild the read model from the events and definitions topics into a fresh schema, then
    switch readers to it atomically (safe while the projector and the API run)."""
    from projections.rebuild import RebuildError
    from projections.rebuild import rebuild as run

    settings = settings_of(ctx)
    try:
        result = run(settings, drop_old=drop_old, report=typer.echo, switch_lag=switch_lag)
    except RebuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    kept = f"previous tables kept in schema {result.old}" if result.old else "previous dropped"
    typer.echo(
        f"rebuilt {result.live}: {result.events} events in {result.seconds:.1f} s "
        f"({result.undecodable} undecodable records skipped); {kept}"
    )
