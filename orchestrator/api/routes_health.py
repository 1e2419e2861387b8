"""GET /health: Kafka (a metadata round trip) and Postgres (a query), 503 if either is down."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.models import ComponentHealth, Health
from projections import queries

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


async def _kafka(rt: Runtime) -> ComponentHealth:
    try:
        details = await asyncio.wait_for(
            asyncio.to_thread(rt.producer.cluster_metadata, CHECK_TIMEOUT_S), CHECK_TIMEOUT_S + 1
        )
    except Exception as exc:
        return ComponentHealth(healthy=False, details={"error": str(exc) or type(exc).__name__})
    details["bootstrap"] = rt.settings.kafka_bootstrap
    return ComponentHealth(healthy=bool(details["brokers"]), details=details)


async def _postgres(rt: Runtime) -> ComponentHealth:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async with rt.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
                lag = await queries.projection_lag(conn, rt.projector_name)
    except Exception as exc:
        return ComponentHealth(healthy=False, details={"error": str(exc) or type(exc).__name__})
    details: dict[str, Any] = {
        "projectionLagRecords": sum(p.records_behind for p in lag),
        "projectorLastCommitSecondsAgo": min((p.seconds_since_update for p in lag), default=None),
    }
    return ComponentHealth(healthy=True, details=details)


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A component is unhealthy"}},
)
async def health(rt: Annotated[Runtime, Depends(runtime)]) -> JSONResponse:
    kafka, postgres = await asyncio.gather(_kafka(rt), _postgres(rt))
    body = Health(
        healthy=kafka.healthy and postgres.healthy,
        components={"kafka": kafka, "postgres": postgres},
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.healthy else 503)
