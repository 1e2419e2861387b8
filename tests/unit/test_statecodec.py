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
from orchestrator.engine.statecodec import TableEntry, decode_entry, encode_entry

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
