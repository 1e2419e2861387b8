"""Rebuild the read model from the log into a fresh schema, then switch readers over atomically.

``orchestrator projections rebuild`` (projections/README.md, "Rebuilding"):

1. ``CREATE SCHEMA readmodel_<stamp>`` and run the migrations into it;
2. read the events and definitions topics from the beginning (group-less, rebuild_reader.py)
   and apply them there with the projector's own ``apply_batch``, offsets included, until only
   a short stretch is left to the live log end;
3. the switch, ONE transaction on the live schema: lock the tables the projector and the API
   write (readers are not blocked; writers wait), project the last stretch up to the log end
   as of now, copy the API-owned tables, then rename the live schema to ``<live>_old_<stamp>``
   and the new one to the live name.

Every process finds its tables through ``search_path`` (by schema NAME), so after the commit
the next statement of every connection resolves to the new tables: Postgres re-resolves names
after a schema rename (cached plans and prepared statements are invalidated). No restart, no
pointer table. The live projector resumes in the new schema from its in-memory position, which
is at or before the new schema's offsets (its writes were held by the lock while we caught up
to the log end), so it re-applies a few events as duplicates (dropped) and loses nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from orchestrator.codec.wire import Wire, default_wire
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings
from projections.apply import apply_batch
from projections.migrate import migrate
from projections.projector import consumer_name
from projections.rebuild_reader import LogReader, Where

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
POLL_TIMEOUT_S = 0.5
SWITCH_LAG = 1000  # records left to the log end when the writers' lock is taken
SWITCH_ATTEMPTS = 5
LOCK_TIMEOUT = "10s"  # per attempt: the projector's transactions last milliseconds
STALL_S = 60.0  # no record for this long while behind: the broker is gone
PROGRESS_EVERY_S = 2.0

# The tables the projector writes, in the order its transaction takes them (events first), so
# locking them in this order cannot deadlock with it; then what the API writes.
PROJECTED_TABLES = ("events", "workflows", "tasks", "definitions", "projector_offsets")
# Not a fold of the log: owned by the API (docs/search-and-operations.md), copied over.
API_OWNED_TABLES = ("workflow_removals", "api_keys", "api_tokens")

Report = Callable[[str], None]


class RebuildError(RuntimeError):
    """The rebuild cannot run or could not switch; the live read model is untouched."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    live: str  # the schema name readers use (now holding the rebuilt tables)
    old: str | None  # where the previous tables are kept; None when dropped
    events: int  # events applied into the new schema
    undecodable: int  # records skipped (already dead-lettered by the live projector)
    seconds: float


@dataclass(slots=True)
class _Progress:
    report: Report
    started: float
    events: int = 0
    undecodable: int = 0
    last_report: float = 0.0
    events_at_last_report: int = 0

    def add(self, applied: int, undecodable: int, lag: int) -> None:
        self.events += applied
        self.undecodable += undecodable
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_EVERY_S:
            rate = (self.events - self.events_at_last_report) / max(now - self.last_report, 1e-3)
            self.report(f"rebuild: {self.events} events, {rate:.0f} events/s, lag {lag} records")
            self.last_report, self.events_at_last_report = now, self.events


def rebuild(
    settings: Settings,
    *,
    drop_old: bool = False,
    report: Report = log.info,
    wire: Wire | None = None,
    switch_lag: int = SWITCH_LAG,
) -> RebuildResult:
    """Rebuild the read model of ``settings.database_url``'s schema; see the module doc."""
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "_" + os.urandom(2).hex()
    with psycopg.connect(settings.database_url, autocommit=True) as control:
        live = _live_schema(control)
        new, old = f"readmodel_{stamp}", _old_name(live, stamp)
        control.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(new)))
        report(f"rebuild: projecting the log into schema {new} (live schema: {live})")
        try:
            progress = _project_and_switch(
                settings, control, (live, new, old), wire or default_wire(), report, switch_lag
            )
        except BaseException:
            # Before the switch the live schema was never touched: dropping ours undoes it all.
            control.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(new)))
            raise
        report(f"rebuild: switched; {live} holds the rebuilt read model, the old one is {old}")
        kept: str | None = old
        if drop_old and _drop(control, old, report):
            kept = None
    return RebuildResult(
        live, kept, progress.events, progress.undecodable, time.monotonic() - started
    )


def _live_schema(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise RebuildError("no read model: the first schema of search_path does not exist")
    live: str = row[0]
    found = conn.execute(
        "SELECT to_regclass(format('%%I.projector_offsets', %s::text))", (live,)
    ).fetchone()
    if found is None or found[0] is None:
        raise RebuildError(f"schema {live} holds no read model (run the projector or api once)")
    locked = conn.execute(
        "SELECT pg_try_advisory_lock(hashtext('orchestrator-rebuild:' || %s))", (live,)
    ).fetchone()
    if not (locked and locked[0]):
        raise RebuildError(f"another rebuild of schema {live} is running")
    return live


def _old_name(live: str, stamp: str) -> str:
    suffix = f"_old_{stamp}"
    return live[: 63 - len(suffix)] + suffix  # Postgres names are at most 63 bytes


def _project_and_switch(
    settings: Settings,
    control: psycopg.Connection,
    names: tuple[str, str, str],
    wire: Wire,
    report: Report,
    switch_lag: int,
) -> _Progress:
    live, new, _ = names
    consumer = consumer_name(settings)  # the live projector finds its offsets under this name
    now = time.monotonic()
    progress = _Progress(report, now, last_report=now)
    reader = LogReader(settings, TopicNames.from_settings(settings), wire)
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as work:
            work.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(new)))
            migrate(work)
            for attempt in range(1, SWITCH_ATTEMPTS + 1):
                # Close the gap while nobody waits, until only a short stretch is left.
                while reader.behind(targets := reader.end_offsets()) > switch_lag:
                    _catch_up(work, reader, targets, consumer, progress)
                try:
                    _switch(control, work, reader, names, consumer, progress)
                    seconds = time.monotonic() - progress.started
                    report(
                        f"rebuild: {progress.events} events in {seconds:.1f} s "
                        f"({progress.events / max(seconds, 1e-3):.0f} events/s), caught up"
                    )
                    return progress
                except (errors.LockNotAvailable, errors.DeadlockDetected) as exc:
                    report(f"rebuild: switch attempt {attempt} could not lock {live}: {exc}")
    finally:
        reader.close()
    raise RebuildError(f"could not lock the writers of {live} in {SWITCH_ATTEMPTS} attempts")


def _catch_up(
    work: psycopg.Connection,
    reader: LogReader,
    targets: dict[Where, int],
    consumer: str,
    progress: _Progress,
) -> None:
    """Apply everything up to ``targets`` (a little more is fine) into the new schema."""
    last_record = time.monotonic()
    while (lag := reader.behind(targets)) > 0:
        result = reader.read(BATCH_SIZE, POLL_TIMEOUT_S)
        batch = result.batch
        if not batch.positions:
            if time.monotonic() - last_record > STALL_S:
                raise RebuildError(f"no record for {STALL_S:g} s while {lag} records behind")
            continue
        last_record = time.monotonic()
        applied = apply_batch(work, batch, consumer).applied
        progress.add(applied, result.undecodable, reader.behind(targets))


def _switch(
    control: psycopg.Connection,
    work: psycopg.Connection,
    reader: LogReader,
    names: tuple[str, str, str],
    consumer: str,
    progress: _Progress,
) -> None:
    """The last stretch and the rename, while the live schema's writers wait."""
    live, new, old = names
    with control.transaction():
        control.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        tables = [t for t in PROJECTED_TABLES + API_OWNED_TABLES if _exists(control, live, t)]
        control.execute(
            sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.Identifier(live, t) for t in tables)
            )
        )
        locked_at = time.monotonic()
        # Everything a writer committed before we got the lock is below these end offsets
        # (the API writes a definition to the topic before it upserts the row).
        _catch_up(work, reader, reader.end_offsets(), consumer, progress)
        for table in API_OWNED_TABLES:
            if table in tables and _exists(control, new, table):
                control.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                        sql.Identifier(new, table), sql.Identifier(live, table)
                    )
                )
        rename = "ALTER SCHEMA {} RENAME TO {}"
        control.execute(sql.SQL(rename).format(sql.Identifier(live), sql.Identifier(old)))
        control.execute(sql.SQL(rename).format(sql.Identifier(new), sql.Identifier(live)))
    held_ms = (time.monotonic() - locked_at) * 1000
    progress.report(f"rebuild: writers of {live} waited {held_ms:.0f} ms for the switch")


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, table))
    found = row.fetchone()
    return found is not None and found[0] is not None


def _drop(control: psycopg.Connection, old: str, report: Report) -> bool:
    """Drop the previous tables (waits for readers still inside a transaction on them)."""
    try:
        with control.transaction():
            control.execute("SET LOCAL lock_timeout = '30s'")
            control.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))
    except errors.LockNotAvailable:
        report(f"rebuild: {old} is still in use; kept (drop it later: DROP SCHEMA ... CASCADE)")
        return False
    report(f"rebuild: dropped {old}")
    return True
