"""``orchestrator api``: serve the REST API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.settings import settings_of


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default: API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: API_PORT).")] = None,
) -> None:
    """Run the REST API (Conductor-compatible, base /api; migrates the read model first)."""
    import uvicorn

    from orchestrator.api.app import create_app

    settings = settings_of(ctx)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
