"""``orchestrator history`` and ``orchestrator replay --verify`` (registered in orchestrator/cli.py).

Module level imports only typer and settings: ``orchestrator --help`` imports every command.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.settings import LazySettings, Settings, settings_of

if TYPE_CHECKING:
    from orchestrator.replay.history import Entry

_PREFIX_HELP = "Topic prefix (overrides the global --topic-prefix / ORCHESTRATOR_TOPIC_PREFIX)."


def _settings(ctx: typer.Context, topic_prefix: str | None) -> Settings:
    if topic_prefix:
        lazy: LazySettings = ctx.find_object(LazySettings) or ctx.ensure_object(LazySettings)
        lazy.overrides["topic_prefix"] = topic_prefix
    return settings_of(ctx)


def history(
    ctx: typer.Context,
    workflow_id: Annotated[str, typer.Argument(help="The workflow execution id.")],
    from_log: Annotated[
        bool,
        typer.Option("--from-log", help="Read the events topic instead of the read model."),
    ] = False,
    topic_prefix: Annotated[str | None, typer.Option(help=_PREFIX_HELP)] = None,
) -> None:
    """Print a workflow's history: time (UTC), seq, actor, event, the essentials."""
    from orchestrator.replay import timeline

    settings = _settings(ctx, topic_prefix)
    read = _from_log if from_log else _from_read_model
    entries = read(settings, workflow_id)
    if not entries:
        where = "the events topic" if from_log else "the read model"
        typer.echo(f"no events for workflow {workflow_id} in {where}", err=True)
        raise typer.Exit(1)
    for line in timeline.lines(entries):
        typer.echo(line)


def _from_read_model(settings: Settings, workflow_id: str) -> list[Entry]:
    import psycopg

    from orchestrator.replay import store

    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            return store.history_sync(conn, workflow_id)
    except psycopg.OperationalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _from_log(settings: Settings, workflow_id: str) -> list[Entry]:
    """The workflow's events from the topic, re-emissions dropped, in seq order."""
    from orchestrator.codec import CodecError
    from orchestrator.codec.wire import default_wire
    from orchestrator.kafka.topics import TopicNames
    from orchestrator.replay.history import entry_from_event
    from orchestrator.replay.logread import LogReader, LogUnavailable

    wire = default_wire()
    try:
        reader = LogReader(settings, TopicNames.from_settings(settings).events)
    except LogUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    found: dict[int, Entry] = {}
    try:
        for record in reader.records():
            if record.value is None:
                continue
            try:
                envelope = wire.decode_event_envelope(record.value)
            except CodecError:
                continue  # not this tool's business: `replay --verify` reports such records
            event = envelope.event
            if event.workflow_id == workflow_id and event.seq not in found:
                found[event.seq] = entry_from_event(event, envelope.correlation_id)
    finally:
        reader.close()
    return [found[seq] for seq in sorted(found)]


def replay(
    ctx: typer.Context,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Fold the events topic and compare it with the read model."),
    ] = False,
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="Only this workflow execution.")
    ] = None,
    topic_prefix: Annotated[str | None, typer.Option(help=_PREFIX_HELP)] = None,
    wait_projector: Annotated[
        float,
        typer.Option(help="Seconds to wait for the projector to reach the log end."),
    ] = 30.0,
) -> None:
    """Replay the event log. --verify: drop identical re-emissions, flag conflicting ones and seq
    gaps, fold every workflow with the engine's evolve and compare it with the read model.
    Exit 0 clean, 1 problems found, 3 incomplete (the projector is behind)."""
    if not verify:
        typer.echo("replay: only --verify is available (see orchestrator replay --help)", err=True)
        raise typer.Exit(2)
    import psycopg

    from orchestrator.replay.logread import LogUnavailable
    from orchestrator.replay.verify import verify as run_verify

    settings = _settings(ctx, topic_prefix)
    try:
        report = run_verify(
            settings,
            out=typer.echo,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            workflow_id=workflow,
            wait_projector_s=wait_projector,
        )
    except (LogUnavailable, psycopg.OperationalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(report.exit_code)
