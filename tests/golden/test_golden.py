"""Golden histories: re-deciding the recorded commands gives byte-identical events, and folding
the recorded events gives the recorded final states. Regenerate with scripts/regen_golden.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.domain import serde
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions_json import parse_task_def, parse_workflow_def
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted
from orchestrator.domain.state import WorkflowState
from orchestrator.testing.context import dict_context

FILES = sorted(Path(__file__).parent.glob("*.json"))
LEGACY = sorted((Path(__file__).parent / "legacy").glob("*.json"))


def _summary_v1(state: WorkflowState) -> dict:
    tasks = sorted(state.tasks.values(), key=lambda t: t.seq)
    return {
        "status": str(state.status),
        "output": state.output,
        "variables": state.variables,
        "reason": state.reason,
        "seq": state.seq,
        "generation": state.generation,
        "tasks": [[t.ref, str(t.status), t.retry_count, t.generation] for t in tasks],
    }


def _summary(state: WorkflowState) -> dict:
    failed = [state.failed_ref_names, state.failed_task_names]
    return {**_summary_v1(state), "failed_names": [None if n is None else list(n) for n in failed]}


def _dump(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def test_there_are_at_least_ten_golden_histories():
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_redeciding_commands_gives_identical_events(path: Path):
    golden = json.loads(path.read_text())
    ctx = dict_context(
        [parse_workflow_def(d) for d in golden["workflow_defs"]],
        [parse_task_def(d) for d in golden["task_defs"]],
    )
    states: dict[str, WorkflowState] = {}
    produced = []
    for data in golden["commands"]:
        command = serde.command_from_jsonable(data)
        decision = decide(states.get(command.workflow_id), command, ctx)
        if isinstance(decision, Accepted):
            for event in decision.events:
                states[command.workflow_id] = evolve(states.get(command.workflow_id), event)
                produced.append(serde.to_jsonable(event))
    produced.sort(key=lambda e: (e["workflow_id"], e["seq"]))
    assert [_dump(e) for e in produced] == [_dump(e) for e in golden["events"]]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_folding_events_gives_recorded_final_state(path: Path):
    golden = json.loads(path.read_text())
    states: dict[str, WorkflowState] = {}
    for data in golden["events"]:
        event = serde.event_from_jsonable(data)
        states[event.workflow_id] = evolve(states.get(event.workflow_id), event)
    recorded = golden["final"]
    summaries = {wid: _summary(s) for wid, s in sorted(states.items())}
    # finals recorded before a summary field existed compare on the fields they have
    assert {
        wid: {k: v for k, v in summary.items() if k in recorded.get(wid, summary)}
        for wid, summary in summaries.items()
    } == recorded


# --- histories recorded under older rules -------------------------------------------------------
# legacy/*.json were recorded by the code before a rule changed (see each file's recorded_with):
# the log is forever, so they must still fold to their recorded final states; where a file says
# `resume_in_flight`, an execution caught in the middle (its first events folded) goes on under
# today's rules exactly as it did (the rest of its commands give the rest of its events).


@pytest.mark.parametrize("path", LEGACY, ids=[p.stem for p in LEGACY])
def test_histories_recorded_under_older_rules_fold_to_their_recorded_final_state(path: Path):
    test_folding_events_gives_recorded_final_state(path)


@pytest.mark.parametrize(
    "path",
    [p for p in LEGACY if "resume_in_flight" in json.loads(p.read_text())],
    ids=lambda p: p.stem,
)
def test_an_execution_in_flight_under_older_rules_goes_on_as_recorded(path: Path):
    golden = json.loads(path.read_text())
    split = golden["resume_in_flight"]
    ctx = dict_context(
        [parse_workflow_def(d) for d in golden["workflow_defs"]],
        [parse_task_def(d) for d in golden["task_defs"]],
    )
    recorded = [serde.event_from_jsonable(e) for e in golden["events"]]
    states: dict[str, WorkflowState] = {}
    for event in recorded[: split["events"]]:
        states[event.workflow_id] = evolve(states.get(event.workflow_id), event)
    produced = []
    for data in golden["commands"][split["commands"] :]:
        command = serde.command_from_jsonable(data)
        decision = decide(states.get(command.workflow_id), command, ctx)
        if isinstance(decision, Accepted):
            for event in decision.events:
                states[command.workflow_id] = evolve(states.get(command.workflow_id), event)
                produced.append(serde.to_jsonable(event))
    recorded_tail = golden["events"][split["events"] :]
    assert len(produced) == len(recorded_tail)
    # Fields added since (e.g. the end events' failed task names) could not be written then:
    # an event goes on as it did when it agrees on every field the recorded one has.
    as_recorded = [
        {k: v for k, v in e.items() if k in r} for e, r in zip(produced, recorded_tail, strict=True)
    ]
    assert [_dump(e) for e in as_recorded] == [_dump(e) for e in recorded_tail]


@pytest.mark.parametrize("path", LEGACY, ids=[p.stem for p in LEGACY])
def test_histories_recorded_before_failed_task_names_never_record_them(path: Path):
    """Their end events carry no failed names: the state keeps them unrecorded (None), which
    the read model and the API read with the rule of that time (ADR 0002 "Failure")."""
    states: dict[str, WorkflowState] = {}
    for data in json.loads(path.read_text())["events"]:
        event = serde.event_from_jsonable(data)
        states[event.workflow_id] = evolve(states.get(event.workflow_id), event)
    assert all(s.failed_ref_names is None for s in states.values())
