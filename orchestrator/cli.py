"""The ``orchestrator`` command: one entry point, one subcommand per process or tool.

Adding a command (``processor``, ``projector``, ``api``, ``worker``, ``replay``, ...):

1. Write a thin function in your package, e.g. ``orchestrator/engine/cli.py``::

       def processor(ctx: typer.Context, ...) -> None:
           \"\"\"Run the processor.\"\"\"
           from orchestrator.engine.app import run   # heavy imports INSIDE the body
           run(settings_of(ctx))

   At module level import only ``typer`` and ``orchestrator.settings``: every command module is
   imported by ``orchestrator --help``, which must stay fast.
2. Register it in ``_COMMANDS`` below (name -> "module:function"; a ``typer.Typer`` object
   there becomes a group, e.g. ``projections rebuild``). That list is the one place where
   commands are wired.

Settings: ``settings_of(ctx)`` (from orchestrator.settings) loads them once, honouring the
global flags; an invalid value exits with status 2 and a message naming the variable.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated

import typer

from orchestrator.settings import (
    LazySettings,
    Settings,
    SettingsError,
    setting_sources,
    settings_of,
    unknown_env_vars,
)

app = typer.Typer(
    name="orchestrator",
    help="Event-sourced workflow orchestrator on Kafka (Conductor-compatible).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts contain literal [brackets]
)

# name -> "module:function"; see the module docstring. Only commands that really work go here.
_COMMANDS: dict[str, str] = {
    "processor": "orchestrator.engine.cli:processor",
    "gate": "orchestrator.flow.cli:gate",
    "serve": "orchestrator.engine.cli:serve",
    "projector": "projections.cli:projector",
    "event-handlers": "orchestrator.events.cli:event_handlers",
    "api": "orchestrator.api.cli:api",
    "worker": "orchestrator.worker.cli:worker",
    "history": "orchestrator.replay.cli:history",
    "replay": "orchestrator.replay.cli:replay",
    "bench": "orchestrator.bench.cli:bench",
    "projections": "projections.rebuild_cli:projections",  # a Typer sub-app: projections rebuild
    "keys": "orchestrator.auth.cli:keys",  # API keys: create, list, revoke
}


def _flag_help(name: str) -> str:
    return f"{Settings.help_for(name)} [env: ORCHESTRATOR_{name.upper()}]"


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# Commands that write or read no record: they never wait for a schema registry (docs/adr/0013).
_NO_RECORDS = frozenset({"settings", "version", "keys", "topics"})


def _configure_process(settings: Settings, register: bool = True) -> None:
    """Once the settings are loaded: logging, and the payload store of every codec call in this
    process (it connects on first use only; docs/adr/0011), and its schema registry (0013)."""
    _configure_logging(settings)
    from orchestrator.payloads.setup import configure_process

    configure_process(settings, register=register)


@app.callback()
def _global_options(
    ctx: typer.Context,
    kafka_bootstrap: Annotated[
        str | None, typer.Option(help=_flag_help("kafka_bootstrap"), show_default=False)
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help=_flag_help("database_url"), show_default=False)
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(help=_flag_help("topic_prefix"), show_default=False)
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help=_flag_help("api_url"), show_default=False)
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help=_flag_help("log_level"), show_default=False)
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Override any setting, e.g. --set partitions=8 (see `orchestrator settings`).",
        ),
    ] = None,
) -> None:
    overrides: dict[str, str | None] = {}
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        overrides[_field_name(name)] = value
    overrides.update(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix,
        api_url=api_url,
        log_level=log_level,
    )
    ctx.obj = LazySettings(
        {k: v for k, v in overrides.items() if v is not None},
        on_load=functools.partial(
            _configure_process, register=ctx.invoked_subcommand not in _NO_RECORDS
        ),
    )


def _field_name(name: str) -> str:
    """``partitions``, ``PARTITIONS`` and ``ORCHESTRATOR_PARTITIONS`` all name one setting."""
    return name.strip().upper().removeprefix("ORCHESTRATOR_").lower().replace("-", "_")


@app.command("settings")
def settings_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings (secrets masked), where each comes from, and its meaning."""
    lazy: LazySettings = ctx.ensure_object(LazySettings)
    settings = settings_of(ctx)
    sources = setting_sources(overrides=lazy.overrides)
    rows = settings.describe()
    for name in unknown_env_vars():
        typer.echo(f"warning: {name} is set but is no setting (a typo?)", err=True)
    if as_json:
        typer.echo(json.dumps({name: value for name, value, _ in rows}, indent=2))
        return
    width = max(len(name) for name, _, _ in rows)
    for name, value, help_text in rows:
        typer.echo(f"{name:<{width}}  {value or '-'}  [{sources[name]}]  # {help_text}")


@app.command("version")
def version_command() -> None:
    """Print the version of the orchestrator and of the Kafka client library."""
    try:
        ours = package_version("kafka-orchestrator")
    except PackageNotFoundError:
        ours = "unknown (not installed)"
    import confluent_kafka

    typer.echo(f"orchestrator {ours}")
    typer.echo(f"python {sys.version.split()[0]}")
    typer.echo(
        f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}"
    )


@app.command("topics")
def topics_command(
    ctx: typer.Context,
    describe_only: Annotated[
        bool, typer.Option("--describe-only", help="Only describe; create nothing.")
    ] = False,
    task_type: Annotated[
        list[str] | None,
        typer.Option("--task-type", help="Also ensure the task topic of this type (repeatable)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 10.0,
) -> None:
    """Create (idempotently) and describe every topic of the registry."""
    from orchestrator.kafka.admin import KafkaUnavailable, describe_topics, ensure_topics
    from orchestrator.kafka.topics import (
        core_topics,
        gate_topic_specs,
        presence_topic_spec,
        task_topic_spec,
    )

    settings = settings_of(ctx)
    specs = [
        *core_topics(settings),
        *gate_topic_specs(settings),  # flow control (ADR 0006)
        presence_topic_spec(settings),  # task domains' active pollers
        *(task_topic_spec(settings, t) for t in task_type or []),
    ]
    failed = False
    try:
        if not describe_only:
            report = ensure_topics(settings, specs, timeout)
            for name in report.created:
                typer.echo(f"created  {name}")
            for line in report.warnings:
                typer.echo(f"warning: {line}", err=True)
            for line in report.errors:
                typer.echo(f"error: {line}", err=True)
            failed = not report.ok
        present = _existing(settings, [s.name for s in specs], timeout)
        for description in describe_topics(settings, present, timeout):
            configs = " ".join(f"{k}={v}" for k, v in sorted(description.overrides.items()))
            typer.echo(
                f"{description.name}  partitions={description.partitions} "
                f"replication={description.replication_factor}  {configs}"
            )
    except KafkaUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    missing = sorted({s.name for s in specs} - set(present))
    for name in missing:
        typer.echo(f"missing  {name}", err=True)
    if missing or failed:
        raise typer.Exit(1)


def _existing(settings: Settings, names: list[str], timeout: float) -> list[str]:
    from orchestrator.kafka.admin import admin_client

    present = admin_client(settings, timeout).list_topics(timeout=timeout).topics
    return [n for n in names if n in present]


def _register(commands: dict[str, str]) -> None:
    for name, target in commands.items():
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if isinstance(command, typer.Typer):  # a group of subcommands
            app.add_typer(command, name=name)
        else:
            app.command(name)(command)


_register(_COMMANDS)


def main() -> None:
    """Console script entry point (``orchestrator``)."""
    try:
        app()
    except SettingsError as exc:
        typer.echo(f"orchestrator: {exc}", err=True)
        sys.exit(2)
