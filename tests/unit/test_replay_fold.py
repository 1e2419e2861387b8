"""The audit fold and the stored history: the events table's rows give back the very events,
their fold is evolve's, and the read-model bookkeeping (retired tasks, pruned loop iterations)
follows the events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain import serde
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.statuses import TaskStatus
from orchestrator.replay.fold import Folded, fold
from orchestrator.replay.history import entry_from_event, entry_from_row, event_from_entry
from orchestrator.replay.rows import current_task_rows, workflow_row
from orchestrator.testing.builders import Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))


def golden_events(path: Path) -> list[ev.Event]:
    return [serde.event_from_jsonable(e) for e in json.loads(path.read_text())["events"]]


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_stored_rows_give_back_the_exact_events(path: Path):
    for event in golden_events(path):
        entry = entry_from_event(event)
        # through the JSON text Postgres keeps in jsonb, as the events table returns it
        row = {**json.loads(json.dumps(entry.public())), "workflow_id": entry.workflow_id}
        row["root_workflow_id"] = entry.root_workflow_id
        assert event_from_entry(entry_from_row(row)) == event


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_fold_gives_the_state_evolve_gives(path: Path):
    by_workflow: dict[str, list[ev.Event]] = {}
    for event in golden_events(path):
        by_workflow.setdefault(event.workflow_id, []).append(event)
    for events in by_workflow.values():
        state = None
        for event in events:
            state = evolve(state, event)
        folded = fold(events)
        assert folded is not None and folded.state == state
        assert folded.last_at == events[-1].at


def test_restart_retires_every_earlier_task_from_the_current_view():
    events = golden_events(next(p for p in GOLDEN if p.stem == "restart_history"))
    restart = next(i for i, e in enumerate(events) if isinstance(e, ev.WorkflowRestarted))
    before = fold(events[:restart])
    after = fold(events)
    assert before is not None and after is not None and before.state is not None
    assert after.retired == set(before.state.tasks)
    current = current_task_rows(after)
    assert current and all(r["generation"] == 1 for r in current)
    assert all(r["task_id"] not in after.retired for r in current)


def test_rerun_retires_the_tasks_from_the_rerun_task_on():
    flow = Engine.of([workflow("w", task("a"), task("b"), task("c"))], [TaskDef(name="x")])
    flow.start("w")
    for ref in ("a", "b", "c"):
        flow.report(ref)
    first_b = flow.t("b").task_id
    kept_a, cut_c = flow.t("a").task_id, flow.t("c").task_id
    flow.op(cmd.RerunWorkflow, from_task_id=first_b)
    folded = fold(flow.history)
    assert folded is not None
    assert folded.retired == {first_b, cut_c}
    assert kept_a in {r["task_id"] for r in current_task_rows(folded)}


def _loop_history() -> list[ev.Event]:
    """A DO_WHILE keeping its last 2 iterations, run 4 times."""
    loop = task(
        "loop",
        "DO_WHILE",
        loop_condition="true",
        loop_over=(task("fetch"),),
        input_parameters={"keepLastN": 2},
    )
    flow = Engine.of(
        [workflow("w", loop)],
        [TaskDef(name="fetch")],
        scripts=FakeScripts(js={"true": lambda b: True}),
    )
    flow.start("w")
    for n in (1, 2, 3, 4):
        flow.report(f"fetch__{n}", TaskStatus.COMPLETED, {"n": n})
    return flow.history


def test_loop_iterations_dropped_from_the_state_are_archived_for_the_read_model():
    history = _loop_history()
    removed = [e for e in history if isinstance(e, ev.LoopIterationsRemoved)]
    assert removed, "keepLastN must have dropped iterations"
    folded = fold(history)
    assert folded is not None and folded.state is not None
    dropped = {t for e in removed for t in e.removed_task_ids}
    assert set(folded.archived) == dropped
    assert not dropped & set(folded.state.tasks)
    loop_id = removed[0].task_id
    assert folded.pruned_output[loop_id] == {k for e in removed for k in e.output_keys}


def test_workflow_row_renders_times_and_failed_refs_like_the_read_model():
    events = golden_events(next(p for p in GOLDEN if p.stem == "restart_history"))
    restart = next(i for i, e in enumerate(events) if isinstance(e, ev.WorkflowRestarted))
    failed = fold(events[:restart])
    assert failed is not None and failed.state is not None
    row = workflow_row(failed.state)
    assert row["status"] == "FAILED" and row["end_time"] == events[restart - 1].at
    assert row["failed_ref_names"] == [failed.state.tasks[failed.state.failed_task_id].ref]
    running = Folded("wf-1")
    running.apply(events[0])
    assert running.state is not None
    assert workflow_row(running.state)["end_time"] is None
