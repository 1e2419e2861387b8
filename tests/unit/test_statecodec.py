"""The processor's changelog encoding: fast pickling must round-trip every state exactly."""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
from pathlib import Path

from orchestrator.domain import serde
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.engine.statecodec import (
    PackedEntry,
    TableEntry,
    decode_entry,
    encode_entry,
    entry_seq,
    packed,
)

GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))


def load_case_states() -> list[WorkflowState]:
    """Every intermediate state of every golden history (forks, loops, retries, reruns...)."""
    states: list[WorkflowState] = []
    for path in GOLDEN:
        current: dict[str, WorkflowState] = {}
        for data in json.loads(path.read_text())["events"]:
            event = serde.event_from_jsonable(data)
            current[event.workflow_id] = evolve(current.get(event.workflow_id), event)
            states.append(current[event.workflow_id])
    return states


def test_every_golden_state_round_trips_through_the_changelog_encoding() -> None:
    states = load_case_states()
    assert len(states) > 50
    for state in states:
        entry = TableEntry(partition=3, state=state)
        back = decode_entry(encode_entry(entry))
        assert back == entry
        # and it is the same object graph the plain pickle gives
        assert back == pickle.loads(pickle.dumps(entry))


def test_a_record_written_by_one_process_loads_in_a_fresh_one() -> None:
    state = load_case_states()[-1]
    data = encode_entry(TableEntry(partition=1, state=state))
    code = (
        "import sys; from orchestrator.engine.statecodec import decode_entry; "
        "e = decode_entry(sys.stdin.buffer.read()); print(e.partition, e.state.workflow_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert out.split() == ["1", state.workflow_id]


def test_a_record_written_with_pyrsistent_maps_loads_with_immutables_maps() -> None:
    """States pickled before the maps became immutables.Map (a processor upgraded in place
    reads its changelog): same state, today's map type."""
    from immutables import Map
    from pyrsistent import pmap

    fields = ("tasks", "by_ref", "latest_iteration", "join_waiting", "awaited_by")
    for state in load_case_states()[-5:]:
        old = dataclasses.replace(state, **{f: pmap(dict(getattr(state, f))) for f in fields})
        back = decode_entry(pickle.dumps(TableEntry(partition=2, state=old)))
        assert back == TableEntry(partition=2, state=state)
        assert all(isinstance(getattr(back.state, f), Map) for f in fields)


def test_definitions_are_embedded_once_per_object_and_shared_again_when_loaded() -> None:
    from orchestrator.engine import statecodec

    states = [s for s in load_case_states() if s.tasks][-6:]
    shared = states[0].definition
    entries = [TableEntry(0, dataclasses.replace(s, definition=shared)) for s in states]
    back = [decode_entry(encode_entry(e)) for e in entries]
    assert back == entries
    assert all(b.state.definition is back[0].state.definition for b in back)
    # the record holds the definition's bytes as pickled on their own (not ~40 objects)
    alone = statecodec._dumps_with(statecodec._plain_table(), shared)
    assert all(alone in encode_entry(e) for e in entries)


def test_a_record_with_definitions_pickled_inline_still_loads() -> None:
    """Records written before definitions were embedded as shared bytes."""
    from orchestrator.engine import statecodec

    for state in load_case_states()[-5:]:
        entry = TableEntry(partition=2, state=state)
        assert decode_entry(statecodec._dumps_with(statecodec._plain_table(), entry)) == entry


def test_a_finished_execution_is_kept_as_its_record_and_reads_back_equal() -> None:
    states = load_case_states()
    finished = next(s for s in states if s.is_terminal)
    entry = TableEntry(partition=2, state=finished)
    blob = encode_entry(entry)

    kept = packed(entry, blob)

    assert isinstance(kept, PackedEntry)
    assert (kept.partition, kept.seq, kept.blob) == (2, finished.seq, blob)
    assert kept.state == finished
    assert entry_seq(kept) == entry_seq(entry) == finished.seq


def test_a_running_execution_stays_an_object() -> None:
    running = next(s for s in load_case_states() if not s.is_terminal)
    entry = TableEntry(partition=0, state=running)
    assert packed(entry, encode_entry(entry)) is entry
