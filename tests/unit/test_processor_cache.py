"""The processor's cache of executions: finished ones are kept as their changelog record."""

from __future__ import annotations

import dataclasses

from orchestrator.domain.state import WorkflowState
from orchestrator.engine.processor import _encode_and_pack, _merge_newest, _StateView
from orchestrator.engine.statecodec import CacheEntry, PackedEntry, TableEntry, encode_entry
from tests.unit.test_statecodec import load_case_states


def finished_and_running() -> tuple[WorkflowState, WorkflowState]:
    states = load_case_states()
    return (next(s for s in states if s.is_terminal), next(s for s in states if not s.is_terminal))


def test_a_finished_execution_written_to_the_changelog_is_cached_as_its_record() -> None:
    finished, running = finished_and_running()
    done, busy = TableEntry(0, finished), TableEntry(1, running)
    cache: dict[str, CacheEntry] = {"done": done, "busy": busy}

    blobs = {wid: _encode_and_pack(cache, wid, e) for wid, e in list(cache.items())}

    assert blobs == {"done": encode_entry(done), "busy": encode_entry(busy)}
    assert cache["done"] == PackedEntry(0, finished.seq, blobs["done"])
    assert cache["busy"] is busy
    view = _StateView(cache)  # what the next batch decides on
    assert view.get("done") == finished and view["busy"] is running


def test_an_entry_replaced_by_a_later_batch_is_not_packed_over_it() -> None:
    finished, _ = finished_and_running()
    written = TableEntry(0, finished)
    newer = TableEntry(0, dataclasses.replace(finished, seq=finished.seq + 1))
    cache: dict[str, CacheEntry] = {"wf": newer}  # a restart decided while the write ran

    _encode_and_pack(cache, "wf", written)

    assert cache["wf"] is newer


def test_recovery_keeps_the_newest_entry_whether_packed_or_not() -> None:
    finished, _ = finished_and_running()
    old = TableEntry(0, dataclasses.replace(finished, seq=finished.seq - 1))
    new = TableEntry(0, finished)
    packed_new = PackedEntry(0, finished.seq, encode_entry(new))
    elsewhere = PackedEntry(5, finished.seq, encode_entry(new))

    from_table = _merge_newest([("a", packed_new), ("c", elsewhere)], {"a": old}, {0})
    from_cache = _merge_newest([("a", old)], {"a": packed_new}, {0})

    assert from_table == {"a": packed_new} and from_cache == {"a": packed_new}
