"""``replay --verify``: fold the log again and check the read model against it.

1. Read the events topic from the beginning to its end as of the start (LogReader), every
   partition (with a workflow id: the partitions the read model says its events are on, all of
   them when it does not know it).
2. Per record (scan.LogScan): drop identical re-emissions, flag conflicts and gaps, fold the new
   events with the engine's pure ``evolve``.
3. Wait (bounded) for the projector to reach that end, then compare each folded workflow with its
   rows (compare.compare_workflow) and look for rows the log does not explain.

Exit status (``Report.exit_code``): 0 clean; 1 any conflict, gap, invalid or undecodable
record, or mismatch; 3 nothing wrong found, but some workflows could not be compared because the
projector had not yet applied their last event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg

from orchestrator.codec.wire import default_wire
from orchestrator.kafka.topics import TopicNames
from orchestrator.replay import store
from orchestrator.replay.compare import MISSING, PRESENT, Mismatch, compare_workflow
from orchestrator.replay.fold import Folded
from orchestrator.replay.logread import LogReader, Record
from orchestrator.replay.scan import LogScan
from orchestrator.settings import Settings
from projections.projector import consumer_name

Out = Callable[[str], None]
CHUNK = 500  # workflows whose rows are loaded per round trip


@dataclass
class Report:
    records: int = 0
    partitions: int = 0
    seconds: float = 0.0  # reading and folding the log
    compare_seconds: float = 0.0  # loading and comparing the rows
    scan: LogScan | None = None
    compared: int = 0
    newer: int = 0  # the read model already holds events after the snapshot read
    unprojected: list[str] = field(default_factory=list)  # projector behind their last event
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def problems(self) -> int:
        s = self.scan
        found = len(self.mismatches)
        if s is not None:
            found += len(s.checker.conflicts) + len(s.checker.gaps) + len(s.problems)
        return found

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 1
        return 3 if self.unprojected else 0

    def summary(self) -> str:
        s = self.scan
        assert s is not None
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        verdict = {0: "OK", 1: "PROBLEMS FOUND", 3: "INCOMPLETE"}[self.exit_code]
        return (
            f"replay: {self.records:,} records from {self.partitions} partition(s) in "
            f"{self.seconds:.2f} s ({rate:,.0f} events/s), compared in {self.compare_seconds:.2f} s; "
            f"{s.events:,} events folded, "
            f"{s.duplicates:,} identical re-emissions dropped; {len(s.folds):,} workflows, "
            f"{self.compared:,} compared, {self.newer:,} newer in the read model, "
            f"{len(self.unprojected):,} not projected yet; {len(s.checker.conflicts)} conflicts, "
            f"{len(s.checker.gaps)} gaps, {len(s.problems)} bad records, "
            f"{len(self.mismatches)} mismatches: {verdict}"
        )


def verify(
    settings: Settings,
    out: Out,
    progress: Out,
    workflow_id: str | None = None,
    wait_projector_s: float = 30.0,
    progress_every_s: float = 5.0,
) -> Report:
    topic = TopicNames.from_settings(settings).events
    report = Report()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        where = store.location(conn, workflow_id, topic) if workflow_id else None
        scan = LogScan(
            default_wire(),
            workflow_id=workflow_id,
            root_key=where[0].encode() if where else None,
        )
        reader = LogReader(settings, topic, where[1] if where else None)
        report.scan, report.partitions = scan, len(reader.ends)
        started = time.monotonic()
        try:
            for record in _timed(reader, progress, progress_every_s, started):
                scan.add(record)
        finally:
            reader.close()
        report.records = reader.read
        report.seconds = time.monotonic() - started
        for line in map(str, [*scan.checker.conflicts, *scan.checker.gaps, *scan.problems]):
            out(line)
        projected = _await_projector(conn, settings, topic, reader.ends, wait_projector_s, progress)
        compare_started = time.monotonic()
        _compare(conn, scan, report, projected, out)
        if workflow_id is None:
            _unexplained_rows(conn, scan, reader.ends, report, out)
        elif workflow_id not in scan.folds and not report.mismatches:
            out(f"MISMATCH workflow {workflow_id}: no events in the log")
            report.mismatches.append(Mismatch(workflow_id, "events", MISSING, MISSING))
        report.compare_seconds = time.monotonic() - compare_started
    out(report.summary())
    return report


def _timed(reader: LogReader, progress: Out, every_s: float, started: float) -> Iterator[Record]:
    """The reader's records, with a progress line every ``every_s`` seconds."""
    last, last_count = started, 0
    for n, record in enumerate(reader.records(), 1):
        yield record
        if n % 1000 == 0 and time.monotonic() - last >= every_s:
            now = time.monotonic()
            progress(
                f"replay: {n:,}/{reader.total:,} records, "
                f"{(n - last_count) / (now - last):,.0f} events/s"
            )
            last, last_count = now, n


def _await_projector(
    conn: psycopg.Connection,
    settings: Settings,
    topic: str,
    ends: dict[int, int],
    wait_s: float,
    progress: Out,
) -> dict[int, int]:
    """The projector's offsets once it has reached ``ends`` (or what it has after ``wait_s``)."""
    consumer = consumer_name(settings)
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        offsets = store.projector_offsets(conn, consumer, topic)
        behind = {p: e for p, e in ends.items() if e > 0 and offsets.get(p, 0) < e}
        if not behind or time.monotonic() >= deadline:
            return offsets
        if not told:
            progress(f"replay: waiting up to {wait_s:g} s for the projector to reach the log end")
            told = True
        time.sleep(0.5)


def _compare(
    conn: psycopg.Connection,
    scan: LogScan,
    report: Report,
    projected: dict[int, int],
    out: Out,
) -> None:
    pending: list[Folded] = []
    for folded in scan.comparable():
        last = scan.checker.last_position(folded.workflow_id)
        if last is not None and projected.get(last.partition, 0) <= last.offset:
            report.unprojected.append(folded.workflow_id)
            continue
        pending.append(folded)
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        rows, tasks, sizes = store.rows_of(conn, [f.workflow_id for f in chunk])
        for folded in chunk:
            wid = folded.workflow_id
            row = rows.get(wid)
            size = sizes.get(wid)
            if row is not None and size is not None and min(row["last_seq"], size[1]) > folded.seq:
                report.newer += 1  # projected past the snapshot this run read
                continue
            report.compared += 1
            for mismatch in compare_workflow(folded, row, tasks.get(wid, []), size):
                report.mismatches.append(mismatch)
                out(str(mismatch))
    for wid in report.unprojected:
        out(f"NOT VERIFIED workflow {wid}: the projector has not applied its last event yet")


def _unexplained_rows(
    conn: psycopg.Connection, scan: LogScan, ends: dict[int, int], report: Report, out: Out
) -> None:
    """Workflow rows without events in the log (read before the snapshot's end)."""
    for wid, partition, offset in store.first_event_positions(conn):
        if wid in scan.folds:
            continue
        if partition is not None and offset is not None and offset >= ends.get(partition, 0):
            continue  # its first event was written after this run read the log end
        mismatch = Mismatch(wid, "row", MISSING, PRESENT)
        report.mismatches.append(mismatch)
        out(f"{mismatch} (no events in the log)")
