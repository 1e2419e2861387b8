"""Compare a folded execution with its read-model rows (pure: rows in, mismatches out).

Compared, per workflow: the ``workflows`` columns in ``WORKFLOW_FIELDS`` (``update_time`` may be
either the last event's time or the largest one: the projector keeps the larger when clocks of
different actors disagree), the number of ``events`` rows, and every task attempt: present on
both sides, and the columns in ``TASK_FIELDS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.replay.fold import Folded
from orchestrator.replay.rows import Row, all_tasks, workflow_row

WORKFLOW_FIELDS = (
    "status",
    "reason",
    "input",
    "output",
    "variables",
    "last_seq",
    "generation",
    "create_time",
    "start_time",
    "end_time",
    "last_retried_time",
    "failed_ref_names",
    "failed_task_names",
)
TASK_FIELDS = ("status", "output", "retry_count", "retired")
_SHOWN_CHARS = 200
PRESENT, MISSING = "present", "missing"


@dataclass(frozen=True, slots=True)
class Mismatch:
    workflow_id: str
    field: str
    log: Any  # the value the fold of the log gives
    read_model: Any
    task: str | None = None  # "<ref> (<task id>)" for a task field

    def __str__(self) -> str:
        where = f"workflow {self.workflow_id}"
        if self.task:
            where += f" task {self.task}"
        return (
            f"MISMATCH {where} {self.field}: log={_show(self.log)} "
            f"read-model={_show(self.read_model)}"
        )


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def compare_workflow(
    folded: Folded,
    row: Row | None,
    task_rows: list[Row],
    history: tuple[int, int] | None = None,
) -> list[Mismatch]:
    """Mismatches between the fold and the rows (``history``: events rows (count, max seq))."""
    state = folded.state
    assert state is not None, "compare a workflow that has events"
    wid = state.workflow_id
    if row is None:
        return [Mismatch(wid, "row", PRESENT, MISSING)]
    expected = workflow_row(state, with_definition=False)
    found = [
        Mismatch(wid, f, expected[f], row.get(f))
        for f in WORKFLOW_FIELDS
        if expected[f] != row.get(f)
    ]
    if row.get("update_time") not in (folded.last_at, folded.max_at):
        found.append(Mismatch(wid, "update_time", folded.last_at, row.get("update_time")))
    if history is not None and history != (state.seq, state.seq):
        found.append(
            Mismatch(wid, "history (events rows, max seq)", [state.seq] * 2, list(history))
        )
    return found + _compare_tasks(folded, task_rows)


def _compare_tasks(folded: Folded, rows: list[Row]) -> list[Mismatch]:
    wid = folded.workflow_id
    actual = {r["task_id"]: r for r in rows}
    found: list[Mismatch] = []
    for task_id, task in sorted(all_tasks(folded).items(), key=lambda kv: kv[1].seq):
        label = f"{task.ref} ({task_id})"
        row = actual.pop(task_id, None)
        if row is None:
            found.append(Mismatch(wid, "row", PRESENT, MISSING, label))
            continue
        expected = {  # the TASK_FIELDS of rows.task_row, without rendering the whole row
            "status": task.status.value,
            "output": task.output,
            "retry_count": task.retry_count,
            "retired": task_id in folded.retired,
        }
        pruned = folded.pruned_output.get(task_id)
        got = _without(row, "output", pruned) if pruned else row
        found.extend(
            Mismatch(wid, f, expected[f], got.get(f), label)
            for f in TASK_FIELDS
            if expected[f] != got.get(f)
        )
    for task_id, row in actual.items():
        found.append(Mismatch(wid, "row", MISSING, PRESENT, f"{row.get('ref')} ({task_id})"))
    return found


def _without(row: Mapping[str, Any], column: str, keys: set[str]) -> Row:
    """The row with ``keys`` removed from a JSON object column (iterations evolve pruned)."""
    value = row.get(column)
    if not isinstance(value, dict):
        return dict(row)
    return {**row, column: {k: v for k, v in value.items() if k not in keys}}
