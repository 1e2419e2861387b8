"""Which offset of each partition may be committed while tasks finish out of order.

Tasks of one partition run concurrently and finish in any order; the committed offset must never
pass a task whose result is not yet delivered (at-least-once). The committable position of a
partition is its lowest unfinished offset, or one past the highest finished one.
"""

from __future__ import annotations

from collections.abc import Iterable

Partition = tuple[str, int]  # (topic, partition)


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[Partition, set[int]] = {}
        self._next: dict[Partition, int] = {}  # one past the highest finished offset

    def started(self, tp: Partition, offset: int) -> None:
        pending = self._pending.get(tp)
        if pending is None:  # not setdefault: it would build a set for every record
            pending = self._pending[tp] = set()
        pending.add(offset)

    def finished(self, tp: Partition, offset: int) -> int | None:
        """Mark ``offset`` done; returns the new committable position if it advanced."""
        pending = self._pending.get(tp)
        if pending is None or offset not in pending:
            return None  # a partition we lost meanwhile (rebalance): nothing to store
        before = self.position(tp)
        pending.discard(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)
        after = self.position(tp)
        return after if after is not None and after != before else None

    def position(self, tp: Partition) -> int | None:
        pending = self._pending.get(tp)
        if pending:
            return min(pending)
        return self._next.get(tp)

    def in_flight(self, tp: Partition | None = None) -> int:
        if tp is not None:
            return len(self._pending.get(tp, ()))
        return sum(len(p) for p in self._pending.values())

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Partitions revoked: their late completions must not be stored."""
        for tp in partitions:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)
