"""One pass over the events topic's records: decode, drop re-emissions, check seqs, fold.

No I/O here: records come in (from logread.LogReader, or a test), folded workflows and the
problems found come out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.codec import CodecError
from orchestrator.codec.wire import Wire
from orchestrator.domain.events import Event
from orchestrator.replay.fold import Folded
from orchestrator.replay.logread import Record
from orchestrator.replay.sequence import SequenceChecker, Verdict, Where, digest


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that could not be decoded, or an event evolve refused (an impossible history)."""

    kind: str  # "UNDECODABLE" | "INVALID"
    where: Where
    message: str
    workflow_id: str | None = None

    def __str__(self) -> str:
        who = f" workflow {self.workflow_id}" if self.workflow_id else ""
        return f"{self.kind}{who} at {self.where}: {self.message}"


@dataclass(slots=True)
class LogScan:
    """Feed it every record of the events topic in partition order (``add``)."""

    wire: Wire
    workflow_id: str | None = None  # only this workflow's events
    root_key: bytes | None = None  # records with another key are skipped without decoding
    checker: SequenceChecker = field(default_factory=SequenceChecker)
    folds: dict[str, Folded] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    events: int = 0  # new events folded
    duplicates: int = 0  # identical re-emissions dropped
    skipped: int = 0  # records of other workflows (with --workflow)

    def add(self, record: Record) -> None:
        where = Where(record.partition, record.offset)
        if self.root_key is not None and record.key is not None and record.key != self.root_key:
            self.skipped += 1
            return
        if record.value is None:
            self.problems.append(Problem("UNDECODABLE", where, "a null value on the events topic"))
            return
        try:
            event = self.wire.decode_event_envelope(record.value).event
        except CodecError as exc:
            self.problems.append(Problem("UNDECODABLE", where, str(exc)))
            return
        wid = event.workflow_id
        if self.workflow_id is not None and wid != self.workflow_id:
            self.skipped += 1
            return
        verdict = self.checker.check(
            wid, event.seq, digest(record.value), where, type(event).__name__
        )
        if verdict is Verdict.DUPLICATE:
            self.duplicates += 1
        elif verdict is Verdict.NEW:
            self._fold(event, where)

    def _fold(self, event: Event, where: Where) -> None:
        folded = self.folds.get(event.workflow_id)
        if folded is None:
            folded = self.folds[event.workflow_id] = Folded(event.workflow_id)
        try:
            folded.apply(event)
        except Exception as exc:  # evolve's InvalidLog, or worse: a fact it cannot apply
            message = f"{type(event).__name__} seq {event.seq}: {type(exc).__name__}: {exc}"
            self.problems.append(Problem("INVALID", where, message, event.workflow_id))
            self.checker.mark_broken(event.workflow_id)
            return
        self.events += 1

    def comparable(self) -> list[Folded]:
        """The workflows whose whole history folded (no gap, conflict-free start, valid)."""
        return [
            f
            for wid, f in self.folds.items()
            if f.state is not None and not self.checker.is_broken(wid)
        ]
