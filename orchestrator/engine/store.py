"""The state store: execution states the changelog no longer carries, in Postgres.

Two kinds of state land here (ADR 0008):
- finished executions past their retention in memory (engine/cache.py): archived here, then
  tombstoned in the changelog, so recovery reads only live (and recently finished) executions
  while a late report, a retry, a restart or a rerun of an old workflow still finds its state;
- states too large for a Kafka record: the changelog carries a STORED marker (statecodec.py)
  and the record itself is here.

One row per execution, its newest record (an upsert never replaces a higher seq, so a zombie
processor cannot roll a state back). The table lives in its own schema
(ORCHESTRATOR_STATE_STORE_SCHEMA), apart from the read model: `projections rebuild` swaps the
read model's schema and must never take these rows with it. Not rebuildable from the read model
but from the log of record (replay), like the changelog.

Synchronous (psycopg 3, a small pool): the processor calls it from executor threads.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 30_000
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class StoredState:
    partition: int
    seq: int
    record: bytes  # the full changelog record (statecodec.encode_state)


Row = tuple[str, int, int, bytes]  # workflow id, partition, seq, record


class StateStore:
    def __init__(self, url: str, schema: str, *, pool_size: int = 2) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"state store schema {schema!r}: expected a lower-case identifier")
        self.schema = schema
        self._table = sql.Identifier(schema, "execution_states")
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "autocommit": True,
            },
        )
        self._ready = False

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close()

    def ensure(self) -> None:
        """Create the schema and the table if missing (idempotent; several processors may race)."""
        if self._ready:
            return
        ddl = [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " workflow_id text PRIMARY KEY,"
                " partition integer NOT NULL,"
                " seq bigint NOT NULL,"
                " record bytea NOT NULL,"
                " stored_at timestamptz NOT NULL DEFAULT now())"
            ).format(self._table),
        ]
        for attempt in range(3):
            try:
                with self._connection() as conn:
                    for statement in ddl:
                        conn.execute(statement)
                break
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
                if attempt == 2:  # two creators raced on the catalog: the next try sees it
                    raise
        self._ready = True

    def put_many(self, rows: Sequence[Row]) -> None:
        """Upsert each execution's record, never over a higher seq."""
        if not rows:
            return
        self.ensure()
        statement = sql.SQL(
            "INSERT INTO {t} (workflow_id, partition, seq, record) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (workflow_id) DO UPDATE SET partition = excluded.partition, "
            "seq = excluded.seq, record = excluded.record, stored_at = now() "
            "WHERE {t}.seq <= excluded.seq"
        ).format(t=self._table)
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(statement, rows)

    def get_many(self, wids: Iterable[str]) -> dict[str, StoredState]:
        wanted = list(set(wids))
        if not wanted:
            return {}
        self.ensure()
        statement = sql.SQL(
            "SELECT workflow_id, partition, seq, record FROM {} WHERE workflow_id = ANY(%s)"
        ).format(self._table)
        with self._connection() as conn:
            rows = conn.execute(statement, (wanted,)).fetchall()
        return {wid: StoredState(p, seq, bytes(record)) for wid, p, seq, record in rows}

    def count(self) -> int:
        self.ensure()
        with self._connection() as conn:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table)).fetchone()
        return int(row[0]) if row else 0

    def _connection(self) -> Any:
        return self._pool.connection(timeout=CONNECT_TIMEOUT_S * 2)
