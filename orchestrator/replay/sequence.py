"""Per-workflow sequence checks over the log: drop re-emissions, flag conflicts and gaps.

ADR 0001/0003: each event carries a 1-based, gap-free ``seq`` per workflow; after a crash the
processor may write an event again, and that copy is byte-identical (same command, same
deterministic decision, same header). So for every record of the events topic:

- ``seq == last + 1``: a new event (NEW);
- ``seq <= last`` and the same bytes as the first copy: a re-emission, dropped (DUPLICATE);
- ``seq <= last`` and different bytes: two different facts claim one place (CONFLICT);
- ``seq > last + 1``: events are missing (GAP). The fold of that workflow cannot go on, so the
  workflow is marked broken and its later records are only counted (BROKEN).

Memory: 16 bytes per event (a 64-bit digest of the record and where the first copy was), kept
in compact arrays, so a log of 10 million events needs ~160 MB.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass
from enum import Enum

_OFFSET_BITS = 48  # a position packs the partition above a 48-bit offset


class Verdict(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    GAP = "gap"
    BROKEN = "broken"  # after a gap or an invalid event: not folded any more


@dataclass(frozen=True, slots=True)
class Where:
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"partition {self.partition} offset {self.offset}"


@dataclass(frozen=True, slots=True)
class Conflict:
    workflow_id: str
    seq: int
    first: Where
    second: Where
    second_type: str

    def __str__(self) -> str:
        return (
            f"CONFLICT workflow {self.workflow_id} seq {self.seq}: the record at {self.second} "
            f"({self.second_type}) differs from the first copy at {self.first}"
        )


@dataclass(frozen=True, slots=True)
class Gap:
    workflow_id: str
    expected: int
    got: int
    where: Where

    def __str__(self) -> str:
        if self.got < 1:
            return f"GAP workflow {self.workflow_id}: invalid seq {self.got} at {self.where}"
        missing = (
            f"seq {self.expected}"
            if self.got == self.expected + 1
            else f"seq {self.expected}..{self.got - 1}"
        )
        return (
            f"GAP workflow {self.workflow_id}: {missing} missing "
            f"(next found: seq {self.got} at {self.where})"
        )


def digest(value: bytes) -> int:
    """A 64-bit digest of a record value (signed, to fit an array of 'q')."""
    return int.from_bytes(hashlib.blake2b(value, digest_size=8).digest(), "little", signed=True)


def _pack(where: Where) -> int:
    return (where.partition << _OFFSET_BITS) | where.offset


def _unpack(packed: int) -> Where:
    return Where(packed >> _OFFSET_BITS, packed & ((1 << _OFFSET_BITS) - 1))


class SequenceChecker:
    """Classifies each event record of the log; remembers conflicts and gaps."""

    def __init__(self) -> None:
        self._digests: dict[str, array[int]] = {}
        self._positions: dict[str, array[int]] = {}
        self._broken: set[str] = set()
        self.conflicts: list[Conflict] = []
        self.gaps: list[Gap] = []

    def check(
        self, workflow_id: str, seq: int, value_digest: int, where: Where, event_type: str = ""
    ) -> Verdict:
        if workflow_id in self._broken:
            return Verdict.BROKEN
        digests = self._digests.get(workflow_id)
        if digests is None:
            digests = self._digests[workflow_id] = array("q")
            self._positions[workflow_id] = array("q")
        last = len(digests)
        if 1 <= seq <= last:
            if digests[seq - 1] == value_digest:
                return Verdict.DUPLICATE
            first = _unpack(self._positions[workflow_id][seq - 1])
            self.conflicts.append(Conflict(workflow_id, seq, first, where, event_type))
            return Verdict.CONFLICT
        if seq == last + 1:
            digests.append(value_digest)
            self._positions[workflow_id].append(_pack(where))
            return Verdict.NEW
        self.gaps.append(Gap(workflow_id, last + 1, seq, where))
        self._broken.add(workflow_id)
        return Verdict.GAP

    def mark_broken(self, workflow_id: str) -> None:
        """Stop following a workflow (its history cannot be folded: reported elsewhere)."""
        self._broken.add(workflow_id)

    def is_broken(self, workflow_id: str) -> bool:
        return workflow_id in self._broken

    def last_position(self, workflow_id: str) -> Where | None:
        """Where the workflow's newest event (first copy) was read."""
        positions = self._positions.get(workflow_id)
        return _unpack(positions[-1]) if positions else None

    def last_seq(self, workflow_id: str) -> int:
        digests = self._digests.get(workflow_id)
        return 0 if digests is None else len(digests)
