"""The verify report: exit status by what was found, the summary line, progress on long reads."""

from __future__ import annotations

import time
from collections.abc import Iterator

from orchestrator.codec.wire import default_wire
from orchestrator.replay.compare import Mismatch
from orchestrator.replay.logread import Record
from orchestrator.replay.scan import LogScan
from orchestrator.replay.sequence import Where
from orchestrator.replay.verify import Report, _timed


def report(**kw: object) -> Report:
    return Report(scan=LogScan(default_wire()), records=2000, seconds=0.5, **kw)  # type: ignore[arg-type]


def test_clean_run_exits_0_and_says_ok_with_the_rate():
    clean = report()
    assert clean.exit_code == 0
    assert "2,000 records" in clean.summary() and "(4,000 events/s)" in clean.summary()
    assert clean.summary().endswith("0 mismatches: OK")


def test_any_mismatch_conflict_or_gap_exits_1():
    assert report(mismatches=[Mismatch("wf", "status", "A", "B")]).exit_code == 1
    with_conflict = report()
    checker = with_conflict.scan.checker  # type: ignore[union-attr]
    checker.check("wf", 1, 1, Where(0, 0))
    checker.check("wf", 1, 2, Where(0, 1))
    assert with_conflict.exit_code == 1 and "1 conflicts" in with_conflict.summary()
    with_gap = report()
    with_gap.scan.checker.check("wf", 3, 1, Where(0, 0))  # type: ignore[union-attr]
    assert with_gap.exit_code == 1 and with_gap.summary().endswith("PROBLEMS FOUND")


def test_workflows_the_projector_has_not_reached_make_the_run_incomplete():
    behind = report(unprojected=["wf"])
    assert behind.exit_code == 3 and behind.summary().endswith("INCOMPLETE")
    assert report(unprojected=["wf"], mismatches=[Mismatch("x", "f", 1, 2)]).exit_code == 1


class FakeReader:
    total = 3500

    def records(self) -> Iterator[Record]:
        for n in range(self.total):
            yield Record(0, n, None, b"")


def test_long_reads_print_progress_with_a_rate():
    lines: list[str] = []
    got = list(_timed(FakeReader(), lines.append, every_s=0.0, started=0.0))  # type: ignore[arg-type]
    assert len(got) == 3500
    assert len(lines) == 3  # every 1,000 records once the interval has passed
    assert lines[0].startswith("replay: 1,000/3,500 records, ") and lines[0].endswith("events/s")


def test_short_reads_print_no_progress():
    lines: list[str] = []
    list(_timed(FakeReader(), lines.append, every_s=3600.0, started=time.monotonic()))  # type: ignore[arg-type]
    assert lines == []
