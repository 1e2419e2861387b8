"""The wire mapping: every command, event and dispatch survives encode -> decode unchanged,
infrastructure records too, and every malformed input fails with a precise CodecError."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.codec import CodecError, wire
from orchestrator.codec.wire_infra import DeadLetter, DefinitionRecord, Rejection
from orchestrator.codec.wire_types import (
    COMMANDS,
    DISPATCH,
    EVENTS,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    Kind,
    WireField,
    WireType,
)
from orchestrator.domain.commands import ReportTaskResult, StartWorkflow
from orchestrator.domain.definitions import (
    RetryLogic,
    SubWorkflowParams,
    TaskDef,
    TaskTimeoutPolicy,
    TaskType,
    WorkflowDef,
    WorkflowTask,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.event_handlers import parse_event_handler
from orchestrator.domain.events import TaskCompleted, TaskFailed, WorkflowStarted
from orchestrator.domain.statuses import TaskStatus

LONGS = st.integers(-(2**63), 2**63 - 1)
SMALL = st.integers(0, 10_000)
TIMESTAMPS = st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)
TEXT = st.text(max_size=12)  # any unicode except lone surrogates (not encodable as UTF-8)
NAMES = st.text(min_size=1, max_size=10).filter(str.strip)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: integers beyond 64 bits must survive too
    | st.sampled_from([2**63 - 1, -(2**63), 2**64, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(TEXT, JSON_VALUES, max_size=3)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


TASK_DEFS = st.builds(
    TaskDef,
    name=NAMES,
    retry_count=SMALL,
    retry_logic=st.sampled_from(RetryLogic),
    retry_delay_seconds=SMALL,
    timeout_seconds=SMALL,
    timeout_policy=st.sampled_from(TaskTimeoutPolicy),
    poll_timeout_seconds=opt(SMALL),
    concurrent_exec_limit=opt(SMALL),
    input_template=JSON_OBJECTS,
    owner_email=opt(TEXT),
    description=opt(TEXT),
    input_keys=st.lists(TEXT, max_size=2).map(tuple),
)


def _workflow_tasks(children: st.SearchStrategy[WorkflowTask]) -> st.SearchStrategy[WorkflowTask]:
    branch = st.lists(children, min_size=1, max_size=2).map(tuple)
    return st.builds(
        WorkflowTask,
        name=NAMES,
        task_reference_name=NAMES,
        type=st.sampled_from([t.value for t in TaskType]) | NAMES,
        input_parameters=JSON_OBJECTS,
        optional=st.booleans(),
        permissive=st.booleans(),
        retry_count=opt(SMALL),
        task_definition=opt(TASK_DEFS),
        expression=opt(TEXT),
        decision_cases=st.dictionaries(TEXT, branch, max_size=2),
        default_case=st.lists(children, max_size=1).map(tuple),
        fork_tasks=st.lists(branch, max_size=2).map(tuple),
        join_on=st.lists(TEXT, max_size=2).map(tuple),
        loop_over=st.lists(children, max_size=1).map(tuple),
        sub_workflow_param=opt(
            st.builds(
                SubWorkflowParams,
                name=opt(TEXT),
                version=opt(SMALL),
                task_to_domain=st.dictionaries(TEXT, TEXT, max_size=2),
            )
        ),
    )


WORKFLOW_TASKS = st.recursive(
    st.builds(WorkflowTask, name=NAMES, task_reference_name=NAMES),
    _workflow_tasks,
    max_leaves=4,
)
WORKFLOW_DEFS = st.builds(
    WorkflowDef,
    name=NAMES,
    tasks=st.lists(WORKFLOW_TASKS, min_size=1, max_size=3).map(tuple),
    version=SMALL,
    description=opt(TEXT),
    input_parameters=st.lists(TEXT, max_size=2).map(tuple),
    output_parameters=opt(st.dictionaries(TEXT, JSON_VALUES, min_size=1, max_size=2)),
    failure_workflow=opt(NAMES),
    restartable=st.booleans(),
    timeout_seconds=SMALL,
    timeout_policy=st.sampled_from(WorkflowTimeoutPolicy),
    variables=JSON_OBJECTS,
)

_BY_KIND: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.STRING: TEXT,
    Kind.LONG: LONGS,
    Kind.TIMESTAMP: TIMESTAMPS,
    Kind.BOOLEAN: st.booleans(),
    Kind.DOUBLE: st.floats(allow_nan=False),
    Kind.JSON: JSON_VALUES,
    Kind.STRING_ARRAY: st.lists(TEXT, max_size=3).map(tuple),
    Kind.STRING_MAP: st.dictionaries(TEXT, TEXT, max_size=3),
    Kind.WORKFLOW_DEF: WORKFLOW_DEFS,
    Kind.TASK_DEF: TASK_DEFS,
    Kind.WORKFLOW_TASK: WORKFLOW_TASKS,
}
_BASE = {
    "workflow_id": TEXT,
    "root_workflow_id": TEXT,
    "seq": LONGS,
    "at": TIMESTAMPS,
    "actor": TEXT,
}


def field_strategy(f: WireField) -> st.SearchStrategy[Any]:
    base = st.sampled_from(f.enum) if f.kind is Kind.ENUM else _BY_KIND[f.kind]
    return opt(base) if f.optional else base


def instances(t: WireType) -> st.SearchStrategy[Any]:
    names = {f.name for f in dataclasses.fields(t.cls)}
    base = {k: v for k, v in _BASE.items() if k in names}
    return st.builds(t.cls, **{**base, **{f.name: field_strategy(f) for f in t.fields}})


ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("t", COMMANDS, ids=lambda t: t.name)
@ROUND_TRIP
@given(data=st.data())
def test_every_command_round_trips(t: WireType, data: st.DataObject) -> None:
    command = data.draw(instances(t))
    command_id = data.draw(opt(TEXT))
    encoded = wire.encode_command(command, command_id)
    assert wire.decode_command(encoded) == command
    assert wire.decode_command_envelope(encoded).command_id == command_id


@pytest.mark.parametrize("t", EVENTS, ids=lambda t: t.name)
@ROUND_TRIP
@given(data=st.data())
def test_every_event_round_trips(t: WireType, data: st.DataObject) -> None:
    event = data.draw(instances(t))
    encoded = wire.encode_event(event, correlation_id="cmd-7")
    assert wire.decode_event(encoded) == event
    assert wire.decode_any(encoded) == event


@ROUND_TRIP
@given(dispatch=instances(DISPATCH))
def test_task_dispatch_round_trips(dispatch: Any) -> None:
    assert wire.decode_dispatch(wire.encode_dispatch(dispatch)) == dispatch


@ROUND_TRIP
@given(definition=WORKFLOW_DEFS | TASK_DEFS, at=TIMESTAMPS, actor=TEXT)
def test_definition_record_round_trips(definition: Any, at: int, actor: str) -> None:
    decoded = wire.decode_definition(
        wire.encode_definition(definition, registered_at=at, actor=actor)
    )
    assert decoded == DefinitionRecord(definition, at, actor)
    assert decoded.kind == ("workflow" if isinstance(definition, WorkflowDef) else "task")


def test_event_handler_definition_record_round_trips() -> None:
    handler = parse_event_handler(
        {
            "name": "on-approval",
            "event": "conductor:orders:approval",
            "condition": "$.approved",
            "actions": [
                {
                    "action": "complete_task",
                    "complete_task": {"workflowId": "${wid}", "taskRefName": "wait", "output": {}},
                    "expandInlineJSON": True,
                }
            ],
            "active": True,
        }
    )

    decoded = wire.decode_definition(wire.encode_definition(handler, registered_at=5, actor="a"))

    assert decoded == DefinitionRecord(handler, 5, "a")
    assert (decoded.kind, decoded.name, decoded.version) == ("event_handler", "on-approval", None)


def test_dead_letter_round_trips_raw_bytes() -> None:
    letter = DeadLetter(
        "orchestrator.commands",
        3,
        2**40,
        b"wf-1",
        b"\x00\xff garbage",
        "bad marker",
        1_763_700_000_000,
        "processor",
    )
    assert wire.decode_dead_letter(wire.encode_dead_letter(letter)) == letter
    tombstone = dataclasses.replace(letter, key=None, value=None)
    assert wire.decode_any(wire.encode_dead_letter(tombstone)) == tombstone


def test_rejection_carries_the_command_header_and_code() -> None:
    command = ReportTaskResult(
        workflow_id="wf-1",
        root_workflow_id="root-1",
        at=1_000,
        actor="worker:w1",
        task_id="t-1",
        status=TaskStatus.COMPLETED,
    )
    data = wire.encode_rejection(command, "STALE_ATTEMPT", "attempt 2 is current", command_id="c-9")
    assert wire.decode_rejection(data) == Rejection(
        command_type="ReportTaskResult", code="STALE_ATTEMPT", reason="attempt 2 is current",
        rejected_at=1_000, workflow_id="wf-1", root_workflow_id="root-1", at=1_000,
        actor="worker:w1", command_id="c-9",
    )  # fmt: skip


def test_event_header_carries_event_id_correlation_and_schema_version() -> None:
    event = TaskCompleted(
        workflow_id="wf-1", root_workflow_id="root", seq=12, at=5, actor="worker:w", task_id="t"
    )
    data = wire.encode_event(event, correlation_id="cmd-1")
    _, record = wire.default_wire().codec.decode(data)
    assert record["header"]["event_id"] == "wf-1:12"
    envelope = wire.decode_event_envelope(data)
    assert (envelope.correlation_id, envelope.schema_version) == ("cmd-1", 4)  # history: v1-v3


def test_json_fields_are_json_text_on_the_wire() -> None:
    event = TaskCompleted(
        workflow_id="w",
        root_workflow_id="w",
        seq=1,
        at=0,
        actor="a",
        task_id="t",
        output={"é": [1, None, 2**70]},
    )
    _, record = wire.default_wire().codec.decode(wire.encode_event(event))
    assert record["output"] == '{"é":[1,null,1180591620717411303424]}'


# -- decoding errors: each names what is wrong -------------------------------------------


def _raw(name: str, record: dict[str, Any]) -> bytes:
    return wire.default_wire().codec.encode(name, record)


def _task_completed_record(**changes: Any) -> dict[str, Any]:
    event = TaskCompleted(
        workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a", task_id="t"
    )
    _, record = wire.default_wire().codec.decode(wire.encode_event(event))
    record["header"]["occurred_at"] = 0
    return {**record, **changes}


def test_rejects_bytes_without_the_avro_marker() -> None:
    with pytest.raises(CodecError, match="expected marker c301"):
        wire.decode_event(b'{"json": "not avro"}')


def test_rejects_an_unknown_schema_fingerprint() -> None:
    data = wire.encode_event(
        TaskCompleted(workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a", task_id="t")
    )
    with pytest.raises(CodecError, match="unknown schema fingerprint"):
        wire.decode_event(data[:2] + bytes(8) + data[10:])


def test_rejects_a_truncated_body() -> None:
    data = wire.encode_event(
        TaskCompleted(workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a", task_id="t")
    )
    with pytest.raises(CodecError, match="truncated or corrupt"):
        wire.decode_event(data[:-3])


def test_rejects_a_record_of_another_type_than_expected() -> None:
    command = StartWorkflow(workflow_id="w", at=0, actor="api:x", name="flow")
    with pytest.raises(
        CodecError, match=r"expected an event, got a record of type .*StartWorkflow"
    ):
        wire.decode_event(wire.encode_command(command))
    event = TaskCompleted(
        workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a", task_id="t"
    )
    with pytest.raises(CodecError, match=r"expected a command, got .*TaskCompleted"):
        wire.decode_command(wire.encode_event(event))
    with pytest.raises(CodecError, match="expected a task dispatch"):
        wire.decode_dispatch(wire.encode_event(event))
    with pytest.raises(CodecError, match=r"expected a .*DefinitionRecord record"):
        wire.decode_definition(wire.encode_event(event))


def test_rejects_invalid_json_text_naming_the_field() -> None:
    data = _raw("io.orchestrator.v1.events.TaskCompleted", _task_completed_record(output="{oops"))
    with pytest.raises(CodecError, match=r"invalid JSON text in field TaskCompleted\.output"):
        wire.decode_event(data)


def test_rejects_an_unknown_status_value_naming_the_field() -> None:
    record = _task_completed_record(status="EXPLODED", reason="r")
    data = _raw("io.orchestrator.v1.events.TaskFailed", record)
    with pytest.raises(
        CodecError, match=r"unknown TaskStatus value 'EXPLODED' in field TaskFailed\.status"
    ):
        wire.decode_event(data)


def test_rejects_an_embedded_definition_with_the_path_of_the_problem() -> None:
    record = _task_completed_record(
        definition='{"name": "flow", "tasks": [{"name": 3}]}', input="{}"
    )
    del record["task_id"], record["output"], record["logs"], record["worker_id"]
    del record["started_at"]
    data = _raw("io.orchestrator.v1.events.WorkflowStarted", record)
    with pytest.raises(CodecError, match=r"WorkflowStarted\.definition: .*\$\.tasks\[0\]\.name"):
        wire.decode_event(data)


def test_rejects_a_definition_record_whose_name_disagrees_with_its_json() -> None:
    record = {
        "kind": "task",
        "name": "other",
        "version": None,
        "definition": '{"name": "t1"}',
        "registered_at": 0,
        "actor": "a",
    }
    with pytest.raises(CodecError, match="names 'other'"):
        wire.decode_definition(_raw("io.orchestrator.v1.definitions.DefinitionRecord", record))


# -- encoding errors ----------------------------------------------------------------------


def test_refuses_to_encode_a_timestamp_no_reader_can_represent() -> None:
    event = TaskCompleted(
        workflow_id="w", root_workflow_id="w", seq=1, at=2**62, actor="a", task_id="t"
    )
    with pytest.raises(CodecError, match=r"occurred_at: timestamp .* outside the years 1..9999"):
        wire.encode_event(event)


def test_refuses_to_encode_a_value_that_is_not_json() -> None:
    event = TaskCompleted(
        workflow_id="w",
        root_workflow_id="w",
        seq=1,
        at=0,
        actor="a",
        task_id="t",
        output={"s": {1, 2}},
    )
    with pytest.raises(CodecError, match=r"TaskCompleted\.output: not a JSON value"):
        wire.encode_event(event)


def test_refuses_to_encode_a_number_beyond_avro_long() -> None:
    command = StartWorkflow(workflow_id="w", at=0, actor="a", name="flow", priority=2**64)
    with pytest.raises(CodecError, match=r"cannot encode .*StartWorkflow"):
        wire.encode_command(command)


def test_refuses_to_encode_something_that_is_not_a_message() -> None:
    with pytest.raises(CodecError, match="not an event: StartWorkflow"):
        wire.encode_event(StartWorkflow(workflow_id="w", at=0, actor="a", name="f"))  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="not a command: TaskCompleted"):
        wire.encode_command(
            TaskCompleted(
                workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a", task_id="t"
            )
        )  # type: ignore[arg-type]


def test_embedded_definition_round_trips_through_conductor_json() -> None:
    definition = WorkflowDef(name="flow", tasks=(WorkflowTask(name="a", task_reference_name="a1"),))
    event = WorkflowStarted(
        workflow_id="w",
        root_workflow_id="w",
        seq=1,
        at=0,
        actor="api:x",
        definition=definition,
        input={"k": 1},
    )
    _, record = wire.default_wire().codec.decode(wire.encode_event(event))
    assert '"taskReferenceName":"a1"' in record["definition"]  # Conductor's camelCase JSON
    assert wire.decode_event(wire.encode_event(event)) == event


def test_each_definition_object_encodes_to_its_own_json_even_past_the_cache() -> None:
    # The encoder caches rendered definitions by object identity: equal objects, distinct
    # objects and more objects than the cache holds must each still encode to their own JSON.
    def started(definition: WorkflowDef) -> WorkflowStarted:
        return WorkflowStarted(
            workflow_id="w", root_workflow_id="w", seq=1, at=0, actor="a",
            definition=definition, input={},
        )  # fmt: skip

    defs = [
        WorkflowDef(name=f"flow{i}", tasks=(WorkflowTask(name="a", task_reference_name=f"r{i}"),))
        for i in range(1100)
    ]
    for _ in range(2):
        for d in defs[::7] + defs:
            assert wire.decode_event(wire.encode_event(started(d))).definition == d
    for i in range(2000):  # made and dropped: memory (and so ids) reused after evictions
        made = WorkflowDef(name=f"x{i}", tasks=(WorkflowTask(name="a", task_reference_name="r"),))
        assert wire.decode_event(wire.encode_event(started(made))).definition.name == f"x{i}"
    twin = dataclasses.replace(defs[0])
    assert wire.encode_event(started(twin)) == wire.encode_event(started(defs[0]))


def test_hot_path_stays_within_microseconds_not_milliseconds() -> None:
    # A loose guard against accidental per-call schema parsing or reflection (which cost
    # milliseconds); the real figures are measured and reported separately.
    event = TaskFailed(
        workflow_id="w" * 36,
        root_workflow_id="w" * 36,
        seq=9,
        at=1,
        actor="worker:w",
        task_id="t" * 36,
        status=TaskStatus.FAILED,
        reason="boom",
        output={"a": [1, 2, 3]},
        logs=("x",),
    )
    data = wire.encode_event(event)
    start = time.perf_counter()
    for _ in range(2000):
        wire.decode_event(wire.encode_event(event))
    per_pair_us = (time.perf_counter() - start) / 2000 * 1e6
    assert wire.decode_event(data) == event
    assert per_pair_us < 500, f"encode+decode took {per_pair_us:.0f} µs"
