"""Credentials for tests: real keys in a test's Postgres schema, or an in-memory key store.

``admin_key(settings)`` creates an admin key in the schema of ``settings.database_url`` (the
read model's migrations first, so it works before the API ever started) and returns it;
``authed(client, settings)`` sets it on a TestClient/httpx client. Tests authenticate the way
clients do; only the tests of ``ORCHESTRATOR_AUTH=off`` switch authentication off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from orchestrator.auth.keys import KeyRecord, create_key, digest, split_key
from orchestrator.auth.roles import Role
from orchestrator.settings import Settings
from projections.migrate import migrate


def new_key(
    database_url: str,
    role: Role | str = Role.ADMIN,
    principal: str | None = None,
    task_types: Iterable[str] | None = None,
) -> str:
    """A key in the schema of ``database_url`` (the API's ORCHESTRATOR_DATABASE_URL)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        migrate(conn)
        return create_key(conn, role, principal, task_types, created_by="test").key


def admin_key(settings: Settings, principal: str = "test-admin") -> str:
    return new_key(settings.database_url, Role.ADMIN, principal)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def authed(client: Any, settings: Settings, principal: str = "test-admin") -> Any:
    """The client, sending a fresh admin key with every request."""
    client.headers.update(bearer(admin_key(settings, principal)))
    return client


class InMemoryKeyStore:
    """The key store's contract without Postgres (unit tests of the access rules)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, KeyRecord]] = {}

    def add(self, record: KeyRecord, secret: str) -> str:
        self.keys[record.key_id] = (digest(secret), record)
        return f"{record.key_id}.{secret}"

    async def verify_key(self, key_id: str, secret: str) -> KeyRecord | None:
        found = self.keys.get(key_id)
        return found[1] if found and found[0] == digest(secret) else None

    async def issue_token(self, key: KeyRecord, ttl_s: int) -> str:
        raise NotImplementedError

    async def verify_token(self, token: str) -> tuple[KeyRecord | None, bool]:
        return None, False

    def knows(self, key: str) -> bool:
        parts = split_key(key)
        return parts is not None and parts[0] in self.keys
