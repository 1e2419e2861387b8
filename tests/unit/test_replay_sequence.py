"""The log's sequence checks: identical re-emissions dropped, conflicts and gaps flagged."""

from __future__ import annotations

from orchestrator.replay.sequence import SequenceChecker, Verdict, Where, digest


def at(offset: int, partition: int = 0) -> Where:
    return Where(partition, offset)


def test_consecutive_seqs_are_new_events():
    checker = SequenceChecker()
    verdicts = [checker.check("wf", seq, digest(b"e%d" % seq), at(seq)) for seq in (1, 2, 3)]
    assert verdicts == [Verdict.NEW] * 3
    assert checker.last_seq("wf") == 3
    assert (checker.conflicts, checker.gaps) == ([], [])


def test_identical_reemission_is_dropped_as_a_duplicate():
    checker = SequenceChecker()
    for seq in (1, 2, 3):
        checker.check("wf", seq, digest(b"e%d" % seq), at(seq))
    # after a crash the processor writes seq 2 and 3 again, byte for byte
    assert checker.check("wf", 2, digest(b"e2"), at(10)) is Verdict.DUPLICATE
    assert checker.check("wf", 3, digest(b"e3"), at(11)) is Verdict.DUPLICATE
    assert checker.check("wf", 4, digest(b"e4"), at(12)) is Verdict.NEW
    assert (checker.conflicts, checker.gaps) == ([], [])


def test_different_event_with_a_seen_seq_is_a_conflict_naming_both_copies():
    checker = SequenceChecker()
    checker.check("wf", 1, digest(b"start"), at(0, partition=2))
    checker.check("wf", 2, digest(b"completed"), at(5, partition=2))
    verdict = checker.check("wf", 2, digest(b"failed"), at(9, partition=2), "TaskFailed")
    assert verdict is Verdict.CONFLICT
    [conflict] = checker.conflicts
    assert (conflict.workflow_id, conflict.seq) == ("wf", 2)
    assert (conflict.first, conflict.second) == (at(5, 2), at(9, 2))
    text = str(conflict)
    assert "CONFLICT workflow wf seq 2" in text and "TaskFailed" in text
    assert "partition 2 offset 5" in text and "partition 2 offset 9" in text


def test_a_skipped_seq_is_a_gap_and_the_workflow_is_no_longer_followed():
    checker = SequenceChecker()
    checker.check("wf", 1, digest(b"1"), at(0))
    assert checker.check("wf", 4, digest(b"4"), at(1)) is Verdict.GAP
    [gap] = checker.gaps
    assert (gap.expected, gap.got) == (2, 4)
    assert "seq 2..3 missing" in str(gap)
    assert checker.check("wf", 5, digest(b"5"), at(2)) is Verdict.BROKEN
    assert checker.is_broken("wf") and len(checker.gaps) == 1


def test_a_workflow_whose_first_event_is_not_seq_1_has_a_gap():
    checker = SequenceChecker()
    assert checker.check("wf", 2, digest(b"2"), at(0)) is Verdict.GAP
    assert "seq 1 missing" in str(checker.gaps[0])


def test_seq_below_one_is_reported_as_invalid():
    checker = SequenceChecker()
    assert checker.check("wf", 0, digest(b"0"), at(3)) is Verdict.GAP
    assert "invalid seq 0" in str(checker.gaps[0])


def test_workflows_are_checked_independently():
    checker = SequenceChecker()
    assert checker.check("a", 1, digest(b"x"), at(0)) is Verdict.NEW
    assert checker.check("b", 1, digest(b"y"), at(1)) is Verdict.NEW
    assert checker.check("a", 2, digest(b"z"), at(2)) is Verdict.NEW
    assert checker.last_position("a") == at(2) and checker.last_position("b") == at(1)


def test_positions_keep_large_offsets_and_partitions():
    checker = SequenceChecker()
    far = Where(partition=300, offset=2**40 + 7)
    checker.check("wf", 1, digest(b"1"), far)
    assert checker.last_position("wf") == far
