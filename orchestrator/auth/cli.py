"""``orchestrator keys create|list|revoke``: API keys, in the read model's database (ADR 0012).

Run it where the API's ``ORCHESTRATOR_DATABASE_URL`` points: every API process reading that
database accepts the key at once (or refuses a revoked one within ``auth_cache_s``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.settings import settings_of

keys = typer.Typer(
    help="Create, list and revoke API keys (stored hashed; a key is shown once).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _connect(ctx: typer.Context):  # type: ignore[no-untyped-def]
    import psycopg

    from projections.migrate import migrate

    settings = settings_of(ctx)
    try:
        conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        typer.echo(f"error: cannot connect to ORCHESTRATOR_DATABASE_URL: {exc}", err=True)
        raise typer.Exit(1) from None
    migrate(conn)  # the keys table comes with the read model's migrations
    return conn


@keys.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[
        str, typer.Option(help="admin, operator, viewer or worker (see docs/security.md).")
    ],
    principal: Annotated[
        str | None,
        typer.Option(help="Who the key stands for, recorded as the actor (default: the key id)."),
    ] = None,
    task_type: Annotated[
        list[str] | None,
        typer.Option("--task-type", help="Limit a worker key to this task type (repeatable)."),
    ] = None,
) -> None:
    """Create a key and print it (once; the last line is the key alone)."""
    from orchestrator.auth.keys import KeyProblem, create_key

    with _connect(ctx) as conn:
        try:
            new = create_key(conn, role, principal, task_type, created_by="cli")
        except (KeyProblem, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    rec = new.record
    types = ", ".join(rec.task_types) if rec.task_types is not None else "any"
    typer.echo(f"created {rec.role.value} key {rec.key_id} for principal {rec.principal}", err=True)
    if rec.task_types is not None:
        typer.echo(f"  task types: {types}", err=True)
    typer.echo(f"  Conductor SDKs: key_id={rec.key_id} key_secret={new.secret}", err=True)
    typer.echo("  HTTP: 'Authorization: Bearer <key>' or 'X-Authorization: <key>'", err=True)
    typer.echo("  Shown once: only its hash is stored.", err=True)
    typer.echo(new.key)


@keys.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """The keys (never their secrets): id, role, principal, task types, created, revoked."""
    from orchestrator.auth.keys import list_keys

    with _connect(ctx) as conn:
        found = list_keys(conn, include_revoked=all_)
    for k in found:
        types = ",".join(k.task_types) if k.task_types is not None else "*"
        revoked = f"  revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        typer.echo(
            f"{k.key_id}  {k.role.value:<8}  {k.principal}  types={types}  "
            f"created {k.created_at:%Y-%m-%d %H:%M} by {k.created_by}{revoked}"
        )
    if not found:
        typer.echo("no keys", err=True)


@keys.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...), or the whole key.")],
) -> None:
    """Revoke a key and every token exchanged for it."""
    from orchestrator.auth.keys import KeyProblem, revoke_key, split_key

    whole = split_key(key_id)
    with _connect(ctx) as conn:
        try:
            record = revoke_key(conn, whole[0] if whole else key_id)
        except KeyProblem as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"revoked {record.key_id} ({record.role.value}, {record.principal})")
