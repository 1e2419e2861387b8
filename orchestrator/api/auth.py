"""Authentication of every API request, and the access rule of its route (orchestrator/api/access.py).

A request carries a credential as ``Authorization: Bearer <credential>`` or, the way Conductor's
SDKs send it, ``X-Authorization: <credential>``. A credential is an API key (``key_<id>.<secret>``),
a token exchanged for one (``tok_...``, ``POST /api/token``) or an OIDC JWT. The principal it
names is what the audit log records (``api:<principal>``, ``worker:<principal>``); no header a
client types can change that. ``ORCHESTRATOR_AUTH=off`` makes every caller the anonymous admin.

Verified credentials are cached in the process for ``auth_cache_s`` (a revoked key stops working
within that time on every API process).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.access import RouteIndex, Rule, TaskTypeFrom, rule_for
from orchestrator.auth import keys
from orchestrator.auth.keys import KeyRecord
from orchestrator.auth.oidc import OidcVerifier
from orchestrator.auth.roles import (
    ANONYMOUS,
    AuthFailure,
    Permission,
    Principal,
    forbidden,
    unauthenticated,
)
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

HOW_TO = (
    "send an API key (`orchestrator keys create`) as 'Authorization: Bearer <key>' or "
    "'X-Authorization: <key>'"
)


class KeyStore(Protocol):
    async def verify_key(self, key_id: str, secret: str) -> KeyRecord | None: ...
    async def issue_token(self, key: KeyRecord, ttl_s: int) -> str: ...
    async def verify_token(self, token: str) -> tuple[KeyRecord | None, bool]: ...


@dataclass
class PostgresKeyStore:
    """The keys and tokens tables of the read model's database (orchestrator/auth/keys.py)."""

    pool: AsyncConnectionPool

    async def verify_key(self, key_id: str, secret: str) -> KeyRecord | None:
        async with self.pool.connection() as conn:
            return await keys.verify_key(conn, key_id, secret)

    async def issue_token(self, key: KeyRecord, ttl_s: int) -> str:
        async with self.pool.connection() as conn:
            return await keys.issue_token(conn, key, ttl_s)

    async def verify_token(self, token: str) -> tuple[KeyRecord | None, bool]:
        async with self.pool.connection() as conn:
            return await keys.verify_token(conn, token)


class Authenticator:
    """Turns a request's credential into a Principal (or an AuthFailure)."""

    def __init__(self, settings: Settings, store: KeyStore | None = None) -> None:
        self.enabled = settings.auth
        self.token_ttl_s = settings.auth_token_ttl_s
        self.cache_s = float(settings.auth_cache_s)
        self.store = store  # set by the app's lifespan once the pool is open
        self.oidc = _oidc(settings)
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, request: Request) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        credential = credential_of(request)
        if credential is None:
            raise unauthenticated(f"no credentials: {HOW_TO}")
        cache_key = hashlib.sha256(credential.encode()).hexdigest()
        hit = self._cache.get(cache_key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await self._verify(credential)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        self._cache[cache_key] = (principal, now + self.cache_s)
        return principal

    async def _verify(self, credential: str) -> Principal:
        try:
            if (parts := keys.split_key(credential)) is not None:
                record = await self._store().verify_key(*parts)
                if record is None:
                    raise unauthenticated("unknown or revoked API key", "INVALID_KEY")
                return record.principal_value("key")
            if credential.startswith(keys.TOKEN_PREFIX):
                return await self._verify_token(credential)
        except psycopg.Error as exc:
            log.warning("auth: cannot reach the key store: %s", exc)
            raise AuthFailure(
                503, "KEY_STORE_UNAVAILABLE", "cannot check credentials now"
            ) from None
        if credential.count(".") == 2:
            if self.oidc is None:
                raise unauthenticated(
                    "a JWT was sent but OIDC is not configured on this server "
                    "(ORCHESTRATOR_AUTH_OIDC_ISSUER, _AUDIENCE, _JWKS_URL)",
                    "INVALID_TOKEN",
                )
            return await asyncio.to_thread(self.oidc.verify, credential)
        raise unauthenticated(
            "the credential is neither an API key (key_...), a token (tok_...) nor a JWT",
            "INVALID_TOKEN",
        )

    async def _verify_token(self, token: str) -> Principal:
        record, expired = await self._store().verify_token(token)
        if expired:
            raise unauthenticated("the token has expired: exchange the key again", "EXPIRED_TOKEN")
        if record is None:
            raise unauthenticated(
                "unknown token, or its key was revoked (POST /api/token gives a new one)",
                "INVALID_TOKEN",
            )
        return record.principal_value("token")

    async def exchange(self, key_id: str, secret: str) -> str:
        """POST /api/token: a token for a valid key id and secret."""
        try:
            record = await self._store().verify_key(key_id, secret)
            if record is None:
                raise unauthenticated("unknown key id, wrong secret or revoked key", "INVALID_KEY")
            return await self._store().issue_token(record, self.token_ttl_s)
        except psycopg.Error as exc:
            log.warning("auth: cannot reach the key store: %s", exc)
            raise AuthFailure(
                503, "KEY_STORE_UNAVAILABLE", "cannot check credentials now"
            ) from None

    def _store(self) -> KeyStore:
        if self.store is None:
            raise AuthFailure(503, "STARTING", "the API is starting: try again in a moment")
        return self.store


def _oidc(settings: Settings) -> OidcVerifier | None:
    if not settings.auth_oidc_issuer:
        return None
    return OidcVerifier(
        settings.auth_oidc_issuer,
        settings.auth_oidc_audience or "",
        settings.auth_oidc_jwks_url or "",
        principal_claim=settings.auth_oidc_principal_claim,
        roles_claim=settings.auth_oidc_roles_claim,
        algorithms=settings.auth_oidc_algorithms,
    )


def credential_of(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthenticated("the Authorization header must be 'Bearer <key or token>'")
        return value.strip()
    value = (request.headers.get("x-authorization") or "").strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


# -- enforcement: a middleware before anything is parsed, the route dependency after routing --

PRINCIPAL = "orchestrator.principal"  # the ASGI scope key the middleware leaves it under


class AuthMiddleware:
    """Authenticates and applies the route's permission before FastAPI reads the request: an
    unauthenticated caller learns nothing from how its body would have been answered."""

    def __init__(self, app: ASGIApp, index: RouteIndex, authenticator: Authenticator) -> None:
        self.app = app
        self.index = index
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path") or ""
            rule = self.index.match(scope["method"], path[len(root) :] if root else path)
            if rule is not None and rule.permission is not Permission.PUBLIC:
                try:
                    principal = await self.authenticator.authenticate(Request(scope))
                    if not principal.may(rule.permission):
                        raise forbidden(principal.refusal(rule.permission))
                except AuthFailure as exc:
                    await failure_response(exc)(scope, receive, send)
                    return
                scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)


async def authorize(request: Request) -> None:
    """The dependency of every route: the rule of the endpoint FastAPI chose (the middleware
    matched it by path, this is the check that cannot disagree with the router), and a limited
    worker's task type."""
    rule = _rule_of(request)
    if rule.permission is Permission.PUBLIC:
        return
    principal: Principal | None = request.scope.get(PRINCIPAL)
    if principal is None:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(request)
    if not principal.may(rule.permission):
        raise forbidden(principal.refusal(rule.permission))
    if rule.task_type is not None and principal.limited:
        task_type = await _task_type(request, rule.task_type)
        if task_type is None or not principal.may_work_on(task_type):
            allowed = ", ".join(sorted(principal.task_types or ()))
            raise forbidden(
                f"{principal.name} may work only on task types {allowed}; "
                f"{rule.task_type.value} names {task_type or 'no known task'}"
            )
    request.state.principal = principal


def _rule_of(request: Request) -> Rule:
    endpoint = request.scope.get("endpoint")
    found: Rule | None = request.app.state.route_index.by_endpoint.get(endpoint)
    return found or rule_for(request.method, "?")  # unknown: admins only


async def _task_type(request: Request, source: TaskTypeFrom) -> str | None:
    if source is TaskTypeFrom.PATH:
        return str(request.path_params.get("taskType") or "") or None
    rt = request.app.state.runtime
    if source is TaskTypeFrom.BODY_TASK_ID:
        try:
            body = await request.json()
        except ValueError:
            return None
        task_id = body.get("taskId") if isinstance(body, dict) else None
        if not isinstance(task_id, str):
            return None
        handed = request.app.state.task_bridge.handed_out(task_id)
        if handed is not None:
            return str(handed.task_type)
        sql = "SELECT task_type FROM tasks WHERE task_id = %s"
        args: tuple[Any, ...] = (task_id,)
    else:
        sql = (
            "SELECT task_type FROM tasks WHERE workflow_id = %s AND ref = %s"
            " ORDER BY seq DESC LIMIT 1"
        )
        args = (request.path_params.get("workflowId"), request.path_params.get("taskRefName"))
    async with rt.pool.connection() as conn:
        row = await (await conn.execute(sql, args)).fetchone()
    return None if row is None else str(row[0])


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # the dependency runs before every non-public route
        raise RuntimeError("no principal: a public route asked who is calling")
    return principal


def failure_response(exc: AuthFailure) -> JSONResponse:
    body = {"status": exc.status, "message": exc.message, "error": exc.code, "retryable": False}
    headers = {"WWW-Authenticate": 'Bearer realm="orchestrator"'} if exc.status == 401 else None
    return JSONResponse(body, status_code=exc.status, headers=headers)
