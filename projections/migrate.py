"""Schema migrations of the read model: numbered SQL files, applied once, in order.

``projections/migrations/NNNN_name.sql`` files are applied in number order, all pending ones in
ONE transaction that first takes an advisory lock, so that several processes starting at once
(projectors, API replicas) apply each file exactly once and nobody sees a half-migrated schema.
Applied files are recorded in ``schema_migrations`` (with a checksum: editing an applied file is
reported, never silently re-run). Running it again is a no-op.

Migrations apply to the first schema of the connection's ``search_path`` (tests give each test
its own schema that way).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migrations cannot be applied (no target schema, a broken file, ...)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def available_migrations() -> list[Migration]:
    """The migration files shipped with the package, in version order."""
    found = []
    for entry in resources.files("projections.migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return found


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the pending migrations; returns the names applied (empty when up to date).

    ``conn`` must not be inside a transaction; it is left outside one.
    """
    migrations = available_migrations()
    with conn.transaction():
        schema = conn.execute("SELECT current_schema()").fetchone()
        if schema is None or schema[0] is None:
            raise MigrationError(
                "no schema to migrate: the first schema of search_path does not exist"
            )
        # One lock per schema: concurrent starters wait here, then find nothing left to do.
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('orchestrator-migrations:' || %s))",
            (schema[0],),
        )
        conn.execute(_BOOKKEEPING)
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        applied = {int(version): checksum for version, checksum in rows}
        done = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    log.warning(
                        "migration %04d_%s was edited after it was applied; not re-run",
                        migration.version,
                        migration.name,
                    )
                continue
            conn.execute(migration.sql)  # no params: simple protocol, many statements
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            done.append(f"{migration.version:04d}_{migration.name}")
    for name in done:
        log.info("applied migration %s to schema %s", name, schema[0])
    return done


def migrate_url(database_url: str) -> list[str]:
    """Connect, migrate, disconnect (what `orchestrator projector` and `api` do at start)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return migrate(conn)
