"""Handlers turn domain events into row operations (pure; the SQL itself is tested against
Postgres in tests/integration/test_projector.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.codec.wire_infra import DefinitionRecord
from orchestrator.codec.wire_types import EVENTS, WireType
from orchestrator.domain import events as ev
from orchestrator.domain.event_handlers import event_handler_to_json, parse_event_handler
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from projections.apply import DefinitionChange, definition_op, notify_payloads
from projections.decoding import definition_change, tombstone
from projections.handlers import (
    J,
    RowOp,
    UnknownEvent,
    event_data,
    event_row,
    ops_for,
    ops_for_batch,
)
from projections.statements import SQL
from tests.readmodel_fixtures import DEFINITION, happy_history, head, scheduled, started
from tests.unit.test_wire import instances


def statements(ops: list[RowOp]) -> list[str]:
    return [op.statement for op in ops]


def test_every_operation_names_a_known_statement_with_all_its_parameters() -> None:
    history = [
        *happy_history("wf"),
        ev.WorkflowPaused(**head("wf", 11)),
        ev.WorkflowResumed(**head("wf", 12)),
        ev.WorkflowRetried(**head("wf", 13)),
        ev.WorkflowRerun(**head("wf", 14), from_task_id="wf-t2", input={"a": 1}),
        ev.WorkflowRestarted(**head("wf", 15), definition=DEFINITION, input={}),
        ev.TaskSkipped(**head("wf", 16), task_id="s1", ref="charge_ref__2"),
        ev.TaskCanceled(**head("wf", 17), task_id="s1", reason="terminated"),
        ev.TaskCompletedWithErrors(**head("wf", 18), task_id="s1"),
        ev.TaskProgressed(**head("wf", 19), task_id="wf-t1", logs=("x",)),
        ev.TaskQueued(**head("wf", 20), task_id="wf-t1"),
        ev.TaskPostponed(**head("wf", 21), task_id="wf-t1", callback_after_seconds=5),
        ev.WorkflowTerminated(**head("wf", 22), reason="enough"),
    ]
    import re

    for op in ops_for_batch(history):
        placeholders = set(re.findall(r"%\((\w+)\)s", SQL[op.statement]))
        assert placeholders <= set(op.params), (op.statement, placeholders - set(op.params))


def test_workflow_started_inserts_the_workflow_row_with_its_definition() -> None:
    [op] = ops_for(started("wf-1"))
    assert op.statement == "workflow_insert"
    assert op.params["workflow_id"] == "wf-1"
    assert op.params["root_workflow_id"] == "wf-1"
    assert op.params["workflow_type"] == "order_flow"
    assert op.params["version"] == 2
    assert op.params["seq"] == 1
    assert op.params["input"] == J({"order": "wf-1", "note": "blue widgets"})
    assert op.params["variables"] == J({"region": "eu"})
    definition = op.params["definition"].value
    assert definition["name"] == "order_flow"
    assert definition["tasks"][0]["taskReferenceName"] == "reserve_ref"  # Conductor JSON


def test_a_scheduled_retry_inserts_the_attempt_and_marks_the_previous_one_retried() -> None:
    ops = ops_for(scheduled("wf", 7, "t3", "charge_ref", retry_of="t2"))
    assert statements(ops) == ["task_count_increment", "task_insert", "task_mark_retried"]
    assert ops[1].params["retry_count"] == 1
    assert ops[1].params["task_def"].value["name"] == "charge"
    assert ops[2].params["retried_task_id"] == "t2"


def test_a_postponed_task_goes_back_to_scheduled_with_its_callback() -> None:
    [op] = ops_for(
        ev.TaskPostponed(**head("wf", 6), task_id="t2", output={"p": 1}, callback_after_seconds=30)
    )
    assert op.statement == "task_postponed"
    assert "status = 'SCHEDULED'" in SQL[op.statement]
    assert (op.params["callback_after_seconds"], op.params["output"]) == (30, J({"p": 1}))


def test_task_failure_carries_status_reason_and_worker() -> None:
    [op] = ops_for(
        ev.TaskFailed(
            **head("wf", 6),
            task_id="t2",
            status=TaskStatus.FAILED_WITH_TERMINAL_ERROR,
            reason="no",
            worker_id="w9",
        )
    )
    assert op.statement == "task_failed"
    assert op.params["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert (op.params["reason"], op.params["worker_id"]) == ("no", "w9")


def test_workflow_failure_sets_the_timed_out_status_and_failed_task() -> None:
    [op] = ops_for(
        ev.WorkflowFailed(
            **head("wf", 9), status=WorkflowStatus.TIMED_OUT, reason="late", failed_task_id="t1"
        )
    )
    assert (op.statement, op.params["status"], op.params["failed_task_id"]) == (
        "workflow_failed",
        "TIMED_OUT",
        "t1",
    )


def test_end_events_carry_their_failed_task_names_and_older_ones_none() -> None:
    names = {"failed_ref_names": ("t1",), "failed_task_names": ("task_one",)}
    ends = [
        ev.WorkflowCompleted(**head("wf", 9), output={}, reason="why", **names),
        ev.WorkflowFailed(**head("wf", 9), status=WorkflowStatus.FAILED, reason="x", **names),
        ev.WorkflowTerminated(**head("wf", 9), reason="x", failed_task_id="t9", **names),
    ]
    for end in ends:
        [op] = ops_for(end)
        assert (op.params["failed_ref_names"], op.params["failed_task_names"]) == (
            ["t1"],
            ["task_one"],
        )
    [op] = ops_for(ev.WorkflowFailed(**head("wf", 9), status=WorkflowStatus.FAILED, reason="x"))
    assert (op.params["failed_ref_names"], op.params["failed_task_names"]) == (None, None)
    assert "COALESCE(%(failed_ref_names)s" in SQL["workflow_failed"]  # the older rule then


def test_restart_retires_earlier_tasks_before_reopening_the_workflow() -> None:
    ops = ops_for(ev.WorkflowRestarted(**head("wf", 12), definition=DEFINITION, input={"x": 1}))
    assert statements(ops) == ["tasks_retire_all", "workflow_restart"]


def test_rerun_retires_tasks_from_the_rerun_task_on() -> None:
    ops = ops_for(ev.WorkflowRerun(**head("wf", 12), from_task_id="t2", input={}))
    assert statements(ops) == ["tasks_retire_from", "workflow_rerun"]
    assert ops[0].params["from_task_id"] == "t2"


def test_rerun_retires_exactly_the_tasks_the_event_lists() -> None:
    rerun = ev.WorkflowRerun(
        **head("wf", 12),
        from_task_id="t2",
        input={},
        retired_task_ids=("t2", "t5"),
        retired_listed=True,
    )
    ops = ops_for(rerun)
    assert statements(ops) == ["tasks_retire_ids", "workflow_rerun"]
    assert ops[0].params["task_ids"] == ["t2", "t5"]


def test_skipped_loop_task_looks_up_its_definition_reference_without_the_suffix() -> None:
    ops = ops_for(ev.TaskSkipped(**head("wf", 5), task_id="s", ref="charge_ref__3"))
    assert statements(ops) == ["task_count_increment", "task_skipped"]
    assert ops[1].params["definition_ref"] == "charge_ref"


def test_queue_hand_off_changes_no_row() -> None:
    assert ops_for(ev.TaskQueued(**head("wf", 3), task_id="t")) == []


def test_an_event_type_without_a_case_is_an_error_not_a_silent_drop() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class SomethingNew(ev.EventBase):
        detail: str = "new"

    event = SomethingNew(**head("wf", 4))
    with pytest.raises(UnknownEvent, match="no case for SomethingNew"):
        ops_for(event)
    row = event_row(event, "p.events", 1, 42)  # its history row would still be complete
    assert (row["type"], row["seq"], row["data"]) == ("SomethingNew", 4, J({"detail": "new"}))


def test_batch_touches_each_workflow_once_with_its_last_event() -> None:
    history = happy_history("a")[:4] + happy_history("b")[:2]
    touches = [op for op in ops_for_batch(history) if op.statement == "workflow_touch"]
    assert sorted((op.params["workflow_id"], op.params["seq"]) for op in touches) == [
        ("a", 4),
        ("b", 2),
    ]


def test_event_data_renders_enums_tuples_and_definitions_as_json() -> None:
    data = event_data(
        ev.TaskFailed(
            **head("wf", 2), task_id="t", status=TaskStatus.TIMED_OUT, reason="r", logs=("a", "b")
        )
    )
    assert data == {
        "task_id": "t",
        "status": "TIMED_OUT",
        "reason": "r",
        "output": {},
        "logs": ["a", "b"],
        "worker_id": None,
        "started_at": None,
    }
    assert event_data(scheduled("wf", 2, "t", "reserve_ref"))["task_def"]["retryCount"] == 1


def test_notify_payloads_stay_under_the_postgres_limit_and_keep_every_id() -> None:
    ids = [f"workflow-{i:05d}-{'x' * 30}" for i in range(1000)]
    payloads = notify_payloads(ids)
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    import json

    assert sorted(i for p in payloads for i in json.loads(p)) == sorted(ids)


def test_event_handler_records_and_tombstones_are_definition_rows() -> None:
    handler = parse_event_handler(
        {
            "name": "h",
            "event": "kafka:orders",
            "actions": [{"action": "fail_task", "fail_task": {"taskId": "x"}}],
        }
    )

    change = definition_change(DefinitionRecord(handler, 7, "api:t"))

    assert change == DefinitionChange(
        "event_handler", "h", 0, event_handler_to_json(handler), 7, "api:t"
    )
    assert tombstone(b"event_handler:h") == DefinitionChange("event_handler", "h", 0, None)
    assert definition_op(tombstone(b"event_handler:h")).statement == "definition_delete"


@pytest.mark.parametrize("t", EVENTS, ids=lambda t: t.name)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_has_a_case(t: WireType, data: st.DataObject) -> None:
    # Given any event of any type the engine can write, when it is projected, then its type
    # has a case (UnknownEvent otherwise) and every op names a known statement
    for op in ops_for(data.draw(instances(t))):
        assert op.statement in SQL
