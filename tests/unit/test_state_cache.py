"""The processor's cache of executions: live ones as objects, finished ones as their changelog
record, each finished one leaving after its retention (engine/cache.py)."""

from __future__ import annotations

import dataclasses

from orchestrator.domain.state import WorkflowState
from orchestrator.engine.cache import Live, Packed, StateCache
from orchestrator.engine.statecodec import encode_state, read_head
from tests.unit.test_statecodec import load_case_states

RETENTION_MS = 60_000


def finished_and_running() -> tuple[WorkflowState, WorkflowState]:
    states = load_case_states()
    return (next(s for s in states if s.is_terminal), next(s for s in states if not s.is_terminal))


def test_a_finished_execution_written_to_the_changelog_is_kept_as_its_record() -> None:
    finished, running = finished_and_running()
    cache = StateCache(RETENTION_MS)
    done = cache.remember("done", 0, finished)
    busy = cache.remember("busy", 1, running)

    cache.written("done", done, encode_state(finished))
    cache.written("busy", busy, encode_state(running))

    kept = cache.get("done")
    assert isinstance(kept, Packed)
    assert (kept.partition, kept.seq) == (0, finished.seq)
    assert kept.state == finished
    assert cache.get("busy") is busy  # a running one stays an object
    assert cache.counts() == (1, 1)


def test_a_write_does_not_pack_over_a_newer_state_of_the_same_execution() -> None:
    finished, _ = finished_and_running()
    cache = StateCache(RETENTION_MS)
    written = cache.remember("a", 0, finished)
    newer = cache.remember("a", 0, dataclasses.replace(finished, seq=finished.seq + 1))

    cache.written("a", written, encode_state(finished))

    assert cache.get("a") is newer


def test_a_finished_execution_is_due_only_once_written_and_its_retention_is_over() -> None:
    finished, _ = finished_and_running()
    cache = StateCache(RETENTION_MS)
    entry = cache.remember("a", 0, finished)
    end = finished.ended_at

    assert cache.due(end + RETENTION_MS + 1, 10) == []  # not in the changelog yet
    cache.written("a", entry, encode_state(finished))
    assert cache.due(end + RETENTION_MS - 1, 10) == []  # still within its retention
    due = cache.due(end + RETENTION_MS + 2000, 10)
    assert [wid for wid, _ in due] == ["a"]
    assert cache.drop("a", due[0][1])
    assert "a" not in cache and cache.counts() == (0, 0)


def test_a_reopened_execution_is_not_dropped() -> None:
    """A restart decided between the archive write and the drop keeps the new state."""
    finished, running = finished_and_running()
    cache = StateCache(0)
    cache.written("a", cache.remember("a", 0, finished), encode_state(finished))
    [(wid, packed)] = cache.due(finished.ended_at + 1, 10)
    reopened = cache.remember("a", 0, dataclasses.replace(running, seq=finished.seq + 5))

    assert not cache.drop(wid, packed)
    assert cache.get("a") is reopened
    assert cache.counts() == (1, 0)


def test_an_execution_that_ends_again_after_a_restart_gets_a_new_retention() -> None:
    finished, running = finished_and_running()
    cache = StateCache(RETENTION_MS)
    cache.written("a", cache.remember("a", 0, finished), encode_state(finished))
    cache.remember("a", 0, dataclasses.replace(running, seq=finished.seq + 1))
    again = dataclasses.replace(
        finished, seq=finished.seq + 9, ended_at=finished.ended_at + 3_600_000
    )
    cache.written("a", cache.remember("a", 0, again), encode_state(again))

    # the old expiry comes up but the execution is not due until its new end + retention
    assert cache.due(finished.ended_at + RETENTION_MS + 1, 10) == []
    assert [w for w, _ in cache.due(again.ended_at + RETENTION_MS + 1, 10)] == ["a"]


def test_recovery_keeps_the_newest_and_finished_ones_as_bytes() -> None:
    finished, running = finished_and_running()
    cache = StateCache(RETENTION_MS)
    newer = dataclasses.replace(running, seq=finished.seq + 10)
    cache.remember("a", 0, newer)  # e.g. decided by this processor before a rebalance
    record = encode_state(finished)

    assert not cache.load("a", 0, read_head(record), record, None)  # older: ignored
    assert cache.load("b", 1, read_head(record), record, None)

    assert cache.get("a").state == newer  # type: ignore[union-attr]
    assert isinstance(cache.get("b"), Packed)
    assert cache.counts() == (1, 1)


def test_an_archived_execution_read_back_for_a_command_stays_for_a_retention_then_goes() -> None:
    finished, _ = finished_and_running()
    cache = StateCache(RETENTION_MS)
    record = encode_state(finished)
    now = finished.ended_at + 10 * RETENTION_MS

    cache.load_archived("a", 3, finished.seq, record, now)

    entry = cache.get("a")
    assert isinstance(entry, Packed) and entry.archived and entry.partition == 3
    assert cache.due(now + RETENTION_MS - 1, 10) == []
    assert [w for w, _ in cache.due(now + RETENTION_MS, 10)] == ["a"]


def test_releasing_partitions_forgets_their_executions_and_unwritten_states() -> None:
    finished, running = finished_and_running()
    cache = StateCache(RETENTION_MS)
    kept = cache.remember("keep", 0, running)
    gone = cache.remember("gone", 1, running)
    cache.remember("gone-done", 1, finished)
    cache.unwritten.update({"keep": kept, "gone": gone})

    cache.keep_partitions({0})

    assert [w for w, _ in cache.items()] == ["keep"]
    assert list(cache.unwritten) == ["keep"]
    assert cache.counts() == (1, 0)
    assert cache.due(finished.ended_at + RETENTION_MS + 1, 10) == []


def test_the_view_reads_states_of_both_kinds() -> None:
    finished, running = finished_and_running()
    cache = StateCache(RETENTION_MS)
    cache.written("f", cache.remember("f", 0, finished), encode_state(finished))
    cache.remember("r", 0, running)
    view = cache.view()
    assert view.get("f") == finished and view["r"] is running
    assert "f" in view and "x" not in view and len(view) == 2
    assert isinstance(cache.get("r"), Live)
