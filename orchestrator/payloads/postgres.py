"""The default payload store: one table in its own schema of the Postgres every deployment has.

``<schema>.payloads`` (schema ``orchestrator_payloads`` unless ORCHESTRATOR_PAYLOAD_STORE_SCHEMA
says otherwise) is created idempotently by the first process that needs it, under an advisory
lock so that processes starting together do not race. It is not part of the read model
(projections/): a read-model rebuild never touches it, because the log references its rows
forever (docs/adr/0011). Conductor's postgres-external-storage keeps the same shape
(id, data bytea, created_on); content addressing makes a second put of the same bytes a no-op.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from orchestrator.payloads.store import (
    PayloadNotFound,
    PayloadUnavailable,
    checked,
    content_ref,
    is_ref,
)
from orchestrator.settings import mask_url

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "orchestrator_payloads"
_LOCK_KEY = 0x6F72636870617931  # pg_advisory_xact_lock key of the DDL below ("orchpay1")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FAILURES = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


def _ddl(schema: str) -> list[str]:
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f"""CREATE TABLE IF NOT EXISTS "{schema}".payloads (
            ref         text PRIMARY KEY,   -- sha256:<hex of data>
            data        bytea NOT NULL,     -- the payload's UTF-8 JSON text
            size        bigint NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )""",
    ]


class PostgresPayloadStore:
    """Thread-safe; connects on first use (a process that never meets a large payload never
    opens a connection). ``timeout_s`` bounds the wait for a connection."""

    def __init__(
        self, url: str, schema: str = DEFAULT_SCHEMA, *, max_connections: int = 4,
        timeout_s: float = 5.0,
    ) -> None:  # fmt: skip
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"payload store schema {schema!r}: expected a lower-case identifier")
        self.url = url
        self.schema = schema
        self._timeout_s = timeout_s
        self._max = max_connections
        self._pool: ConnectionPool[Any] | None = None
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresPayloadStore({mask_url(self.url)!r}, schema={self.schema!r})"

    def put(self, data: bytes) -> str:
        ref = content_ref(data)
        self._run(
            f'INSERT INTO "{self.schema}".payloads (ref, data, size) VALUES (%s, %s, %s) '
            "ON CONFLICT (ref) DO NOTHING",
            (ref, data, len(data)),
        )
        return ref

    def get(self, ref: str) -> bytes:
        if not is_ref(ref):
            raise PayloadNotFound(f"{ref!r} is not a payload reference")
        rows = self._run(f'SELECT data FROM "{self.schema}".payloads WHERE ref = %s', (ref,))
        if not rows:
            raise PayloadNotFound(f"no payload {ref} in {self.schema}.payloads")
        return checked(ref, bytes(rows[0][0]))

    def ensure(self) -> None:
        """Create the schema and table if missing (idempotent; done on first use anyway)."""
        self._run("SELECT 1", ())

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._connection() as conn:
                if not self._ready:
                    self._create(conn)
                cur = conn.execute(sql, params)  # type: ignore[arg-type]  # built from constants
                return cur.fetchall() if cur.description else []
        except _FAILURES as exc:
            raise PayloadUnavailable(f"payload store {self.schema} unreachable: {exc}") from None
        except psycopg.Error as exc:
            raise PayloadUnavailable(f"payload store {self.schema}: {exc}") from None

    def _connection(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    min_size=0,
                    max_size=self._max,
                    kwargs={"autocommit": True},
                    timeout=self._timeout_s,
                    open=False,
                    name="payload-store",
                )
                self._pool.open(wait=False)
            pool = self._pool
        return pool.connection(timeout=self._timeout_s)

    def _create(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            for statement in _ddl(self.schema):
                conn.execute(statement)  # type: ignore[arg-type]  # built from constants
        self._ready = True
        log.debug("payload store %s.payloads ready", self.schema)
