"""The processor's changelog encoding: fast pickling must round-trip every state exactly."""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.domain import serde
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.engine.statecodec import (
    HEAD_LENGTH,
    StateRecordError,
    decode_state,
    encode_state,
    read_head,
    stored_marker,
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
        record = encode_state(state)
        back = decode_state(record)
        assert back == state
        # and it is the same object graph the plain pickle gives
        assert back == pickle.loads(pickle.dumps(state))


def test_the_head_tells_seq_and_end_without_unpickling() -> None:
    for state in load_case_states():
        head = read_head(encode_state(state))
        assert head.seq == state.seq
        assert head.terminal is state.is_terminal
        assert head.ended_at == (state.ended_at if state.is_terminal else 0)
        assert not head.stored


def test_a_stored_marker_keeps_the_head_and_carries_no_state() -> None:
    state = next(s for s in load_case_states() if s.is_terminal)
    record = encode_state(state)
    marker = stored_marker(record)
    assert len(marker) == HEAD_LENGTH
    head = read_head(marker)
    assert (head.seq, head.terminal, head.stored) == (state.seq, True, True)
    with pytest.raises(StateRecordError, match="marker"):
        decode_state(marker)


@pytest.mark.parametrize(
    "value",
    [b"", b"garbage", pickle.dumps({"not": "a state"}), b"OSC1" + bytes(17) + b"not a pickle"],
)
def test_a_foreign_or_corrupt_record_is_refused_with_a_reason(value: bytes) -> None:
    with pytest.raises(StateRecordError):
        decode_state(value)


def test_a_record_of_another_type_behind_a_valid_head_is_refused() -> None:
    state = load_case_states()[0]
    record = encode_state(state)[:HEAD_LENGTH] + pickle.dumps(["x"])
    with pytest.raises(StateRecordError, match="not an execution state"):
        decode_state(record)


def test_a_record_written_by_one_process_loads_in_a_fresh_one() -> None:
    state = load_case_states()[-1]
    data = encode_state(state)
    code = (
        "import sys; from orchestrator.engine.statecodec import decode_state; "
        "s = decode_state(sys.stdin.buffer.read()); print(s.seq, s.workflow_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert out.split() == [str(state.seq), state.workflow_id]


def test_definitions_are_embedded_once_per_object_and_shared_again_when_loaded() -> None:
    from orchestrator.engine import statecodec

    states = [s for s in load_case_states() if s.tasks][-6:]
    shared = states[0].definition
    same = [dataclasses.replace(s, definition=shared) for s in states]
    back = [decode_state(encode_state(s)) for s in same]
    assert back == same
    assert all(b.definition is back[0].definition for b in back)
    # the record holds the definition's bytes as pickled on their own (not ~40 objects)
    alone = statecodec._dumps_with(statecodec._plain_table(), shared)
    assert all(alone in encode_state(s) for s in same)


def test_a_record_written_before_trailing_state_fields_existed_loads_with_their_defaults() -> None:
    """A processor upgraded in place reads states pickled before `retried_at` (issue #16) was
    appended to WorkflowState: the missing trailing fields take their defaults."""
    from orchestrator.engine import statecodec

    state = dataclasses.replace(load_case_states()[-1], retried_at=0)
    assert statecodec._field_names(WorkflowState)[-1] == "retried_at"
    table = dict(statecodec._dispatch_table())
    newer = statecodec._reducer(WorkflowState)
    table[WorkflowState] = lambda obj: (newer(obj)[0], (WorkflowState, newer(obj)[1][1][:-1]))
    record = statecodec._head(state, 0) + statecodec._dumps_with(table, state)
    assert decode_state(record) == state
