"""Comparing a fold of the log with read-model rows: what counts as a mismatch, what does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain import serde
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.statuses import TaskStatus
from orchestrator.replay.compare import Mismatch, compare_workflow
from orchestrator.replay.fold import Folded, fold
from orchestrator.replay.rows import all_tasks, task_row, workflow_row
from orchestrator.testing.builders import Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))


def folds_of(path: Path) -> list[Folded]:
    by_workflow: dict[str, list[ev.Event]] = {}
    for data in json.loads(path.read_text())["events"]:
        event = serde.event_from_jsonable(data)
        by_workflow.setdefault(event.workflow_id, []).append(event)
    return [f for f in map(fold, by_workflow.values()) if f is not None]


def faithful_rows(folded: Folded) -> tuple[dict, list[dict]]:
    """The rows a correct projector holds for this fold (through JSON, as jsonb returns it)."""
    assert folded.state is not None
    row = json.loads(json.dumps(workflow_row(folded.state)))
    tasks = [
        task_row(folded.workflow_id, t, t.task_id in folded.retired)
        for t in all_tasks(folded).values()
    ]
    return row, json.loads(json.dumps(tasks))


def one(path_stem: str) -> Folded:
    return folds_of(next(p for p in GOLDEN if p.stem == path_stem))[0]


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_faithful_rows_have_no_mismatch(path: Path):
    for folded in folds_of(path):
        row, tasks = faithful_rows(folded)
        assert compare_workflow(folded, row, tasks, (folded.seq, folded.seq)) == []


def test_a_corrupted_status_is_reported_with_both_values():
    folded = one("sequential")
    row, tasks = faithful_rows(folded)
    row["status"] = "FAILED"
    [mismatch] = compare_workflow(folded, row, tasks)
    assert mismatch == Mismatch(folded.workflow_id, "status", "COMPLETED", "FAILED")
    assert str(mismatch) == (
        f"MISMATCH workflow {folded.workflow_id} status: log=COMPLETED read-model=FAILED"
    )


def test_output_variables_and_last_seq_are_compared():
    folded = one("sequential")
    row, tasks = faithful_rows(folded)
    row["output"] = {"forged": True}
    row["variables"] = {"x": 1}
    row["last_seq"] = folded.seq - 1
    fields = {m.field for m in compare_workflow(folded, row, tasks)}
    assert fields == {"output", "variables", "last_seq"}


def test_update_time_may_be_the_last_or_the_largest_event_time():
    folded = one("sequential")
    row, tasks = faithful_rows(folded)
    folded.max_at = folded.last_at + 5  # a worker's clock ran ahead of the one that ended it
    row["update_time"] = folded.max_at
    assert compare_workflow(folded, row, tasks) == []
    row["update_time"] = folded.last_at - 1
    assert [m.field for m in compare_workflow(folded, row, tasks)] == ["update_time"]


def test_a_missing_workflow_row_is_one_mismatch():
    folded = one("sequential")
    assert compare_workflow(folded, None, []) == [
        Mismatch(folded.workflow_id, "row", "present", "missing")
    ]


def test_task_status_output_retry_count_and_missing_or_extra_rows_are_reported():
    folded = one("retries_with_backoff")
    row, tasks = faithful_rows(folded)
    tasks[0]["status"] = "CANCELED"
    tasks[1]["output"] = {"forged": 1}
    tasks[1]["retry_count"] = 7
    dropped = tasks.pop()
    extra = {**dropped, "task_id": "not-in-the-log", "ref": "ghost"}
    found = compare_workflow(folded, row, [*tasks, extra])
    by_field = {(m.task.split(" ")[0] if m.task else None, m.field) for m in found}
    assert (tasks[0]["ref"], "status") in by_field
    assert (tasks[1]["ref"], "output") in by_field and (tasks[1]["ref"], "retry_count") in by_field
    assert (dropped["ref"], "row") in by_field and ("ghost", "row") in by_field
    assert len(found) == 5
    assert any(m.log == "present" and m.read_model == "missing" for m in found)
    assert any(m.log == "missing" and m.read_model == "present" for m in found)


def test_a_history_with_missing_event_rows_is_reported():
    folded = one("sequential")
    row, tasks = faithful_rows(folded)
    [mismatch] = compare_workflow(folded, row, tasks, (folded.seq - 1, folded.seq))
    assert mismatch.field.startswith("history")


def test_retired_flag_of_a_restarted_workflow_is_compared():
    folded = one("restart_history")
    row, tasks = faithful_rows(folded)
    retired = next(t for t in tasks if t["retired"])
    retired["retired"] = False
    [mismatch] = compare_workflow(folded, row, tasks)
    assert (mismatch.field, mismatch.log, mismatch.read_model) == ("retired", True, False)


def test_loop_iterations_pruned_from_the_state_are_not_mismatches():
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
    folded = fold(flow.history)
    assert folded is not None and folded.archived
    row, tasks = faithful_rows(folded)
    loop_row = next(t for t in tasks if t["ref"] == "loop")
    # the read model keeps the iteration keys evolve dropped from the loop's output
    loop_row["output"] = {**loop_row["output"], "1": {"fetch": {"n": 1}}}
    assert compare_workflow(folded, row, tasks) == []
    loop_row["output"]["iteration"] = 99
    assert [m.field for m in compare_workflow(folded, row, tasks)] == ["output"]
