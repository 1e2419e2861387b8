"""API keys and session tokens, kept hashed in the read model's database (ADR 0012).

A key is ``key_<12 hex>.<secret>``: the id before the dot is public (it names the key in
``keys list`` and in logs), the secret after it is 256 random bits, shown once at creation and
stored only as its SHA-256. A fast hash is enough for a random secret of that size (nobody can
guess one to test against the hash); slow password hashes exist for secrets people choose.

Conductor's SDKs exchange a key id and secret for a token (``POST /api/token``); a token is
``tok_<secret>``, stored hashed too, valid ``auth_token_ttl_s`` and only while its key is not
revoked. Both live in tables every API process reads (``api_keys``, ``api_tokens``), so a key
created or revoked anywhere holds on every API within its credential cache time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import AsyncConnection

from orchestrator.auth.roles import Principal, Role, parse_role

KEY_PREFIX = "key_"
TOKEN_PREFIX = "tok_"


class KeyProblem(ValueError):
    """A key cannot be created or revoked as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    principal: str
    role: Role
    task_types: tuple[str, ...] | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def principal_value(self, via: str) -> Principal:
        types = frozenset(self.task_types) if self.task_types is not None else None
        return Principal(self.principal, frozenset({self.role}), via, self.key_id, types)


@dataclass(frozen=True, slots=True)
class NewKey:
    record: KeyRecord
    secret: str

    @property
    def key(self) -> str:
        """What a client sends: ``Authorization: Bearer <key>`` or ``X-Authorization: <key>``."""
        return f"{self.record.key_id}.{self.secret}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of ``key_<id>.<secret>``, or None when it is not shaped like a key."""
    key_id, dot, secret = key.strip().partition(".")
    if not dot or not key_id.startswith(KEY_PREFIX) or not secret:
        return None
    return key_id, secret


_COLUMNS = "key_id, principal, role, task_types, created_at, created_by, revoked_at"


def _record(row: tuple) -> KeyRecord:  # type: ignore[type-arg]
    key_id, principal, role, task_types, created_at, created_by, revoked_at = row
    types = tuple(task_types) if task_types is not None else None
    return KeyRecord(key_id, principal, Role(role), types, created_at, created_by, revoked_at)


def _check_principal(principal: str) -> str:
    name = principal.strip()
    if not name or len(name) > 200 or any(c.isspace() or not c.isprintable() for c in name):
        raise KeyProblem(
            f"principal {principal!r}: expected 1-200 printable characters without spaces"
        )
    return name


# -- synchronous: the CLI, `orchestrator serve`, the bench, tests -------------------------------


def create_key(
    conn: psycopg.Connection,
    role: Role | str,
    principal: str | None = None,
    task_types: Iterable[str] | None = None,
    created_by: str = "cli",
) -> NewKey:
    """A new key (the secret is in the result only). ``principal`` defaults to the key id."""
    role = role if isinstance(role, Role) else parse_role(role)
    types = sorted({t.strip() for t in task_types if t.strip()}) if task_types else None
    if types is not None and role is not Role.WORKER:
        raise KeyProblem(f"task types limit worker keys only, not a {role.value} key")
    key_id = KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    name = _check_principal(principal) if principal else key_id
    row = conn.execute(
        "INSERT INTO api_keys (key_id, secret_hash, principal, role, task_types, created_by)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (key_id, digest(secret), name, role.value, types, created_by),
    ).fetchone()
    assert row is not None
    return NewKey(_record(row), secret)


def list_keys(conn: psycopg.Connection, include_revoked: bool = False) -> list[KeyRecord]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at").fetchall()
    return [_record(r) for r in rows]


def revoke_key(conn: psycopg.Connection, key_id: str) -> KeyRecord:
    """Revoke the key (and with it every token exchanged for it); KeyProblem when unknown."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s"
        f" RETURNING {_COLUMNS}",
        (key_id.strip(),),
    ).fetchone()
    if row is None:
        raise KeyProblem(f"no key {key_id!r} (see `orchestrator keys list`)")
    conn.execute("DELETE FROM api_tokens WHERE key_id = %s", (key_id.strip(),))
    return _record(row)


# -- asynchronous: the API ---------------------------------------------------------------------


async def verify_key(conn: AsyncConnection, key_id: str, secret: str) -> KeyRecord | None:
    """The key if ``secret`` is its secret and it is not revoked, else None."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE key_id = %s", (key_id,)
    )
    row = await cur.fetchone()
    if row is None or not hmac.compare_digest(row[-1], digest(secret)):
        return None
    record = _record(row[:-1])
    return None if record.revoked_at is not None else record


async def issue_token(conn: AsyncConnection, key: KeyRecord, ttl_s: int) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_tokens (token_hash, key_id, expires_at)"
        " VALUES (%s, %s, now() + make_interval(secs => %s))",
        (digest(token), key.key_id, ttl_s),
    )
    # Expired tokens are of no use to anyone: each exchange sweeps a few away.
    await conn.execute(
        "DELETE FROM api_tokens WHERE token_hash IN (SELECT token_hash FROM api_tokens"
        " WHERE expires_at < now() - interval '1 hour' LIMIT 100)"
    )
    return token


async def verify_token(conn: AsyncConnection, token: str) -> tuple[KeyRecord | None, bool]:
    """(the token's key, expired?): (None, False) for an unknown token or a revoked key."""
    cur = await conn.execute(
        f"SELECT {', '.join('k.' + c.strip() for c in _COLUMNS.split(','))},"
        " t.expires_at < now() FROM api_tokens t JOIN api_keys k USING (key_id)"
        " WHERE t.token_hash = %s",
        (digest(token),),
    )
    row = await cur.fetchone()
    if row is None:
        return None, False
    record = _record(row[:-1])
    if record.revoked_at is not None:
        return None, False
    return (None, True) if row[-1] else (record, False)


def key_is_valid(conn: psycopg.Connection, key: str) -> bool:
    """True when ``key`` is a key of this database, with its secret, not revoked."""
    parts = split_key(key)
    if parts is None:
        return False
    row = conn.execute(
        "SELECT secret_hash FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (parts[0],)
    ).fetchone()
    return row is not None and hmac.compare_digest(row[0], digest(parts[1]))
