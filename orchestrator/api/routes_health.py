"""GET /health and GET /health/ready: every component, 200 when healthy, 503 naming the rest.

``/health`` (Conductor's path, called by its clients) covers Kafka, Postgres, the processors,
the gates and the projector; ``/health/ready`` (for a load balancer) only what a request sent
to this API needs to be served end to end: Kafka, Postgres, a live processor on every
partition of the commands topic, a live projector. Both read cached probes and the heartbeats
in memory (health_checks.py), so probing them often costs nothing. docs/operations.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.health_checks import ALL, READY_REQUIRES, HealthChecks, failing
from orchestrator.api.models import ComponentHealth, Health

router = APIRouter(tags=["health"])
_UNHEALTHY = {503: {"model": Health, "description": "A component is unhealthy (see failing)"}}


def health_checks(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> HealthChecks:
    """The app's one HealthChecks (shared with /metrics and the start route's warning)."""
    checks: HealthChecks | None = getattr(request.app.state, "health_checks", None)
    if checks is None:
        checks = request.app.state.health_checks = HealthChecks(rt)
    return checks


Checks = Annotated[HealthChecks, Depends(health_checks)]


@router.get("/health", response_model=Health, responses=_UNHEALTHY)
async def health(checks: Checks) -> JSONResponse:
    """Every component: Kafka, Postgres, processors, gates, projector."""
    return _answer(await checks.report(), ALL)


@router.get("/health/ready", response_model=Health, responses=_UNHEALTHY)
async def ready(checks: Checks) -> JSONResponse:
    """Ready to serve: Kafka, Postgres, every commands partition and the projector served."""
    return _answer(await checks.report(), READY_REQUIRES)


def _answer(components: dict[str, ComponentHealth], required: tuple[str, ...]) -> JSONResponse:
    bad = failing(components, required)
    body = Health(healthy=not bad, components=components, failing=bad)
    return JSONResponse(body.model_dump(), status_code=503 if bad else 200)
