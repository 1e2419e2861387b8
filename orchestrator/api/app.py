"""The REST API (Conductor's surface, base /api): ``create_app(settings)`` is the factory.

The lifespan migrates the read model, makes sure the core topics exist, and opens what the
routes share (``Runtime``): an idempotent Kafka producer, a Postgres connection pool, the
projection watch used for read-your-writes and the view of the services' heartbeats (health).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from psycopg_pool import AsyncConnectionPool
from starlette.routing import Route

from orchestrator.api import errors
from orchestrator.api.access import RouteIndex
from orchestrator.api.freshness import ProjectionWatch
from orchestrator.api.kafka_out import AsyncProducer
from orchestrator.api.rejections import RejectionFollower
from orchestrator.codec.wire import Wire, default_wire
from orchestrator.health.monitor import StatusView
from orchestrator.kafka.topics import TopicNames, core_topics
from orchestrator.payloads.setup import configure_process
from orchestrator.settings import Settings
from projections import queries
from projections.migrate import migrate_url
from projections.projector import consumer_name

log = logging.getLogger(__name__)

MIGRATE_ATTEMPTS = 30  # one per second: Postgres may still be starting next to us


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    topics: TopicNames
    wire: Wire
    pool: AsyncConnectionPool
    producer: AsyncProducer
    watch: ProjectionWatch
    rejections: RejectionFollower  # engine refusals of the commands this process sends
    status: StatusView | None = None  # the services' heartbeats (orchestrator/health)

    @property
    def projector_name(self) -> str:
        return consumer_name(self.settings)


def runtime(request: Request) -> Runtime:
    """FastAPI dependency: the shared resources of this app."""
    rt: Runtime = request.app.state.runtime
    return rt


def create_app(settings: Settings) -> FastAPI:
    from orchestrator.api.auth import Authenticator, AuthMiddleware, authorize, failure_response
    from orchestrator.api.routes_auth import document_security
    from orchestrator.auth.roles import AuthFailure

    app = FastAPI(
        title="Kafka orchestrator",
        description="Conductor-compatible REST API of an event-sourced workflow orchestrator.",
        lifespan=_lifespan(settings),
        dependencies=[Depends(authorize)],  # every route: credentials, then its access rule
    )
    errors.install(app)
    app.add_exception_handler(AuthFailure, lambda _, exc: failure_response(exc))
    routers = _routers()
    for prefix, router in routers:
        app.include_router(router, prefix=prefix)
    app.state.authenticator = Authenticator(settings)
    app.state.route_index = index = RouteIndex.build(_routes(app, routers))
    for rule in index.missing:
        log.warning(
            "api: no access rule for %s %s: admins only (orchestrator/api/access.py)",
            rule.method,
            rule.path,
        )
    from orchestrator.api.fast_poll import FastPoll
    from orchestrator.api.fast_update import FastUpdate

    app.add_middleware(FastUpdate, owner=app)  # inside AuthMiddleware: added before it
    app.add_middleware(FastPoll, owner=app)
    app.add_middleware(AuthMiddleware, index=index, authenticator=app.state.authenticator)
    document_security(app)
    return app


def _routers() -> list[tuple[str, APIRouter]]:
    """(prefix, router) in the order they are matched."""
    # First: their fixed paths (/workflow/search, /workflow/bulk/pause, /workflow/running/x,
    # /tasks/search) would otherwise be taken by /workflow/{id}... routes.
    from orchestrator.api import (
        metrics,
        routes_audit,
        routes_auth,
        routes_bulk,
        routes_events,
        routes_health,
        routes_lists,
        routes_metadata,
        routes_operations,
        routes_search,
        routes_tasks,
        routes_ui,
        routes_workflow,
    )

    first = [("", metrics.router)]
    first += [
        ("/api", m.router) for m in (routes_search, routes_bulk, routes_lists, routes_operations)
    ]
    rest = [
        ("", routes_health.router),
        ("/api", routes_auth.router),
        ("/api", routes_metadata.router),
        ("/api", routes_events.router),
        ("/api", routes_workflow.router),
        ("/api", routes_tasks.router),
        ("/api", routes_audit.router),
        ("", routes_ui.router),  # the web UI: pages, /ui/ files, /api/ui/*
    ]
    return first + rest


def _routes(
    app: FastAPI, routers: list[tuple[str, APIRouter]]
) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(method, full path, endpoint) of every route: ours and FastAPI's own (/docs ...)."""
    for prefix, router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods or ()):
                    yield method, prefix + route.path, route.endpoint
    for own in app.router.routes:
        if isinstance(own, Route) and not isinstance(own, APIRoute):
            yield "GET", own.path, own.endpoint


def _warn_auth_off(settings: Settings) -> None:
    line = "!" * 78
    log.warning(
        "\n%s\n AUTHENTICATION IS OFF (ORCHESTRATOR_AUTH=off): anyone who reaches %s:%s can\n"
        " register, start, terminate and delete anything, as 'anonymous'. Never expose it.\n%s",
        line,
        settings.api_host,
        settings.api_port,
        line,
    )


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.auth:
            _warn_auth_off(settings)
        await asyncio.to_thread(_migrate, settings.database_url)
        await asyncio.to_thread(_ensure_topics, settings)
        pool = AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=10,
            kwargs={"autocommit": True},
            open=False,
        )
        await pool.open(wait=False)
        # Large payloads: this process's store, for the routes, the task bridge and its
        # consumers (which decode with the module-level codec functions); ADR 0011.
        configure_process(settings)
        from orchestrator.api.auth import PostgresKeyStore

        app.state.authenticator.store = PostgresKeyStore(pool)
        producer = AsyncProducer(settings)
        watch = ProjectionWatch(settings.database_url)
        await watch.start()
        topics = TopicNames.from_settings(settings)
        rejections = RejectionFollower(settings, topics.rejections, default_wire())
        await rejections.start()
        status = StatusView.for_topic(settings, topics.status).start()
        app.state.runtime = Runtime(
            settings, topics, default_wire(), pool, producer, watch, rejections, status
        )
        # The HTTP poll bridge for Conductor SDK workers (consumes task topics lazily).
        from orchestrator.api.task_bridge import TaskBridge

        app.state.task_bridge = bridge = TaskBridge(
            settings, producer, default_wire(), ended=functools.partial(ended_tasks, pool)
        )
        # Who polls what (Queues page, /metrics): started in the background, never awaited.
        from orchestrator.api.queue_status import BackgroundPresence

        app.state.presence = presence = BackgroundPresence.start_for(settings)
        try:
            yield
        finally:
            await bridge.close()  # before the producer: hand-outs in flight still produce
            await asyncio.to_thread(presence.stop)
            await watch.stop()
            await rejections.stop()
            await asyncio.to_thread(status.stop)
            await asyncio.to_thread(producer.close)
            await pool.close()

    return lifespan


def _migrate(database_url: str) -> None:
    import time

    import psycopg

    for attempt in range(MIGRATE_ATTEMPTS):
        try:
            migrate_url(database_url)
            return
        except psycopg.OperationalError as exc:
            if attempt == MIGRATE_ATTEMPTS - 1:
                raise
            log.warning("api: cannot migrate the read model yet (%s); retrying", exc)
            time.sleep(1)


def _ensure_topics(settings: Settings) -> None:
    """Best effort: the API still starts (and reports 503 on /health) when Kafka is down."""
    from orchestrator.kafka.admin import KafkaUnavailable, ensure_topics

    try:
        report = ensure_topics(settings, core_topics(settings), timeout_s=5)
    except KafkaUnavailable as exc:
        log.warning("api: %s", exc)
        return
    for problem in report.errors + report.warnings:
        log.warning("api: topics: %s", problem)


async def ended_tasks(pool: AsyncConnectionPool, task_ids: list[str]) -> set[str]:
    """The HTTP poll bridge's check before a hand-out: which tasks have ended already."""
    async with pool.connection() as conn:
        return await queries.ended_tasks(conn, task_ids)
