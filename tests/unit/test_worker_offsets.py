"""Offsets of tasks finishing out of order: never commit past an unfinished task."""

from __future__ import annotations

from orchestrator.worker.offsets import OffsetTracker

TP = ("t", 0)


def test_position_waits_for_the_lowest_unfinished_offset() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.started(TP, offset)
    assert tracker.finished(TP, 12) is None
    assert tracker.finished(TP, 11) is None
    assert tracker.finished(TP, 10) == 13


def test_position_advances_to_the_next_unfinished_offset() -> None:
    tracker = OffsetTracker()
    for offset in (1, 2, 3):
        tracker.started(TP, offset)
    assert tracker.finished(TP, 1) == 2
    assert tracker.in_flight(TP) == 2


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.started(TP, 5)
    tracker.started(("t", 1), 7)
    assert tracker.finished(("t", 1), 7) == 8
    assert tracker.position(TP) == 5


def test_completion_of_a_revoked_partition_is_ignored() -> None:
    tracker = OffsetTracker()
    tracker.started(TP, 5)
    tracker.forget([TP])
    assert tracker.finished(TP, 5) is None
    assert tracker.in_flight() == 0
