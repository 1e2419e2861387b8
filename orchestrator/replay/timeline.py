"""A workflow's history as a readable timeline: time, seq, actor, event type, the essentials.

Pure: entries in, lines out. Task events carry only a task id, so the timeline learns each id's
reference name from the TaskScheduled/TaskSkipped entries before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from orchestrator.replay.history import Entry

_VALUE_CHARS = 80


def when(at: int) -> str:
    """Epoch ms as UTC time with milliseconds."""
    moment = datetime.fromtimestamp(at / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{at % 1000:03d}Z"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def _reason(data: dict[str, Any]) -> str:
    reason = data.get("reason")
    return f": {reason}" if reason else ""


def _picked_up(data: dict[str, Any]) -> str:
    """A report that carried its own pickup (no TaskPickedUp before it; ADR 0007)."""
    if not data.get("started_at"):
        return ""
    worker = data.get("worker_id")
    return f" (picked up{f' by {worker}' if worker else ''} in the same report)"


def _workflow(entry: Entry, ref: Callable[[str | None], str]) -> str | None:
    d = entry.data
    definition = d.get("definition") or {}
    match entry.type:
        case "WorkflowStarted":
            extra = f" correlationId={d['correlation_id']}" if d.get("correlation_id") else ""
            parent = f" parent={d['parent_workflow_id']}" if d.get("parent_workflow_id") else ""
            return (
                f"{definition.get('name')} v{definition.get('version')}{extra}{parent} "
                f"input={_short(d.get('input'))}"
            )
        case "WorkflowRestarted":
            return f"new run of {definition.get('name')} v{definition.get('version')}"
        case "WorkflowRerun":
            return f"from {ref(d.get('from_task_id'))}"
        case "WorkflowCompleted":
            return f"COMPLETED output={_short(d.get('output'))}"
        case "WorkflowFailed":
            failed = f" (task {ref(d['failed_task_id'])})" if d.get("failed_task_id") else ""
            return f"{d.get('status')}{_reason(d)}{failed}"
        case "WorkflowTerminated":
            return f"TERMINATED{_reason(d)}"
        case "VariablesUpdated":
            return f"variables {_short(d.get('variables'))}"
        case "WorkflowRetried" | "WorkflowPaused" | "WorkflowResumed":
            return ""
    return None


def _task(entry: Entry, ref: Callable[[str | None], str]) -> str | None:
    d = entry.data
    task = ref(d.get("task_id"))
    match entry.type:
        case "TaskScheduled":
            retry = f" (retry {d['retry_count']})" if d.get("retry_count") else ""
            delay = f" delay {d['start_delay_ms']} ms" if d.get("start_delay_ms") else ""
            return f"{task} [{d.get('task_type')}] {d.get('status', 'SCHEDULED')}{retry}{delay}"
        case "TaskQueued":
            return f"{task} queued"
        case "TaskPickedUp":
            return f"{task} IN_PROGRESS by {d.get('worker_id')}"
        case "TaskProgressed":
            callback = d.get("callback_after_seconds")
            return f"{task} IN_PROGRESS" + (f" callback in {callback} s" if callback else "")
        case "TaskPostponed":
            callback = d.get("callback_after_seconds")
            return f"{task} SCHEDULED again" + (f" in {callback} s" if callback else "")
        case "TaskCompleted":
            return f"{task} COMPLETED{_picked_up(d)} output={_short(d.get('output'))}"
        case "TaskFailed":
            return f"{task} {d.get('status')}{_picked_up(d)}{_reason(d)}"
        case "TaskCompletedWithErrors":
            return f"{task} COMPLETED_WITH_ERRORS{_reason(d)}"
        case "TaskFailurePermitted":
            return f"{task} failure permitted (permissive): the workflow goes on"
        case "TaskSkipped":
            return f"{task} SKIPPED"
        case "TaskCanceled":
            return f"{task} CANCELED{_reason(d)}"
        case "LoopIterationsRemoved":
            return f"{task} iterations {', '.join(d.get('output_keys') or [])} removed"
    return None


def essentials(entry: Entry, refs: dict[str, str]) -> str:
    """What matters in one event, in a few words (task events name the task by reference)."""

    def ref(task_id: str | None) -> str:
        return refs.get(task_id or "", task_id or "?")

    text = _workflow(entry, ref)
    if text is None:
        text = _task(entry, ref)
    return _short(entry.data) if text is None else text


def lines(entries: Iterable[Entry]) -> list[str]:
    """The timeline, one line per event, columns aligned."""
    entries = list(entries)
    refs: dict[str, str] = {}
    rows: list[tuple[str, str, str, str, str]] = []
    for entry in entries:
        if entry.type in ("TaskScheduled", "TaskSkipped") and "task_id" in entry.data:
            refs[entry.data["task_id"]] = str(entry.data.get("ref"))
        cause = f" cmd={entry.correlation_id}" if entry.correlation_id else ""
        rows.append(
            (
                when(entry.at),
                str(entry.seq),
                entry.actor,
                entry.type,
                essentials(entry, refs) + cause,
            )
        )
    if not rows:
        return []
    seq_w = max(len(r[1]) for r in rows)
    actor_w = max(len(r[2]) for r in rows)
    type_w = max(len(r[3]) for r in rows)
    return [
        f"{t}  {'#' + s:>{seq_w + 1}}  {a:<{actor_w}}  {e:<{type_w}}  {x}".rstrip()
        for t, s, a, e, x in rows
    ]
