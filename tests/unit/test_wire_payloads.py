"""Large payloads at the codec boundary (ADR 0011), against the in-memory store: above its soft
threshold a payload goes to the store and the record carries an ExternalPayload; decoding gives
the full value back; no record is ever over the record limit; content addressing makes a
re-encoding byte-identical."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.codec import CodecError, get_codec
from orchestrator.codec.wire import Wire
from orchestrator.codec.wire_payloads import (
    ExternalJson,
    RecordTooLarge,
    json_fields,
    payload_kind,
)
from orchestrator.codec.wire_types import DOMAIN_TYPES
from orchestrator.domain.commands import ReportTaskResult, SkipTask, StartWorkflow
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.events import TaskCompleted, WorkflowStarted
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import KB, PayloadKind, PayloadPolicy
from orchestrator.payloads.store import MemoryPayloadStore, PayloadUnavailable, content_ref
from orchestrator.testing.builders import workflow

THRESHOLD = 4 * KB
RECORD_MAX = 16 * KB


def policy(threshold: int = THRESHOLD, record_max: int = RECORD_MAX) -> PayloadPolicy:
    return PayloadPolicy(
        thresholds=dict.fromkeys(PayloadKind, threshold),
        maximums=dict.fromkeys(PayloadKind, 1024 * KB),
        record_max=record_max,
    )


@pytest.fixture
def store() -> MemoryPayloadStore:
    return MemoryPayloadStore()


@pytest.fixture
def w(store: MemoryPayloadStore) -> Wire:
    return Wire(get_codec(), Payloads(store, policy()))


def report(output: object, **kw: object) -> ReportTaskResult:
    return ReportTaskResult(
        workflow_id="wf-1", at=1_700_000_000_000, actor="worker:w", task_id="t-1",
        status=TaskStatus.COMPLETED, output=output, **kw,
    )  # fmt: skip


def text_of(n: int) -> dict[str, str]:
    """A JSON object of exactly ``n`` bytes: {"v":"xx...x"}."""
    return {"v": "x" * (n - 8)}


def field_record(w: Wire, data: bytes, field: str) -> object:
    return w.codec.decode(data)[1][field]


def test_a_payload_at_its_threshold_stays_in_the_record(w: Wire, store: MemoryPayloadStore):
    data = w.encode_command(report(text_of(THRESHOLD)))
    assert isinstance(field_record(w, data, "output"), str)
    assert store.puts == 0
    assert w.decode_command(data).output == text_of(THRESHOLD)


def test_a_payload_above_its_threshold_goes_to_the_store_by_content(w, store):
    value = text_of(THRESHOLD + 1)
    data = w.encode_command(report(value))
    ref = field_record(w, data, "output")
    text = b'{"v":"' + b"x" * (THRESHOLD + 1 - 8) + b'"}'
    assert ref == {"ref": content_ref(text), "size": THRESHOLD + 1}
    assert len(data) < 300
    assert w.decode_command(data).output == value  # the core sees the full value


def test_re_encoding_the_same_value_is_byte_identical_and_stores_once(w, store):
    value = text_of(50 * KB)
    first = w.encode_command(report(value))
    decoded = w.decode_command(first)
    assert w.encode_command(decoded) == first  # a re-emission after a crash is identical
    assert store.puts == 1


def test_each_kind_has_its_own_threshold(store):
    limits = dataclasses.replace(
        policy(), thresholds={**policy().thresholds, PayloadKind.WORKFLOW_INPUT: 64 * KB}
    )
    w = Wire(get_codec(), Payloads(store, limits))
    start = StartWorkflow(
        workflow_id="wf-1", at=1, actor="api", name="w", version=1, input=text_of(10 * KB)
    )
    assert isinstance(field_record(w, w.encode_command(start), "input"), str)
    assert isinstance(field_record(w, w.encode_command(report(text_of(10 * KB))), "output"), dict)


def test_a_record_with_payloads_each_under_the_threshold_still_fits_the_record_limit(store):
    w = Wire(get_codec(), Payloads(store, policy(threshold=64 * KB)))
    skip = SkipTask(
        workflow_id="wf-1", at=1, actor="api", task_ref="t",
        input=text_of(10 * KB), output=text_of(12 * KB),
    )  # fmt: skip
    data = w.encode_command(skip)
    assert len(data) <= RECORD_MAX
    record = w.codec.decode(data)[1]
    assert isinstance(record["output"], dict)  # the largest went first
    assert isinstance(record["input"], str)  # and that was enough
    assert w.decode_command(data) == skip


def test_a_record_too_large_without_its_payloads_is_refused_naming_the_fields(w):
    huge_logs = tuple("l" * 1000 for _ in range(40))
    with pytest.raises(RecordTooLarge) as caught:
        w.encode_command(report(text_of(100), logs=huge_logs))
    assert caught.value.limit == RECORD_MAX and caught.value.size > RECORD_MAX
    assert "ORCHESTRATOR_MAX_RECORD_BYTES" in str(caught.value)
    assert isinstance(caught.value, CodecError)


def test_without_a_store_records_stay_inline_but_never_over_the_limit():
    w = Wire(get_codec(), record_max=RECORD_MAX)
    assert w.decode_command(w.encode_command(report(text_of(10 * KB)))).output == text_of(10 * KB)
    with pytest.raises(RecordTooLarge):
        w.encode_command(report(text_of(20 * KB)))


def test_a_reference_without_a_store_is_transient_not_a_dead_letter(w):
    data = w.encode_command(report(text_of(20 * KB)))
    with pytest.raises(PayloadUnavailable, match="no payload store configured"):
        Wire(get_codec()).decode_command(data)


def test_a_store_outage_is_transient_on_both_sides(w, store):
    data = w.encode_command(report(text_of(20 * KB)))
    store.fail = "connection refused"
    with pytest.raises(PayloadUnavailable):
        Wire(get_codec(), Payloads(store, policy())).decode_command(data)
    with pytest.raises(PayloadUnavailable):
        w.encode_command(report(text_of(30 * KB)))


def test_a_reference_to_a_missing_payload_is_a_codec_error(w):
    data = w.encode_command(report(text_of(20 * KB)))
    other = Wire(get_codec(), Payloads(MemoryPayloadStore(), policy()))
    with pytest.raises(CodecError, match=r"ReportTaskResult.output: no payload sha256:"):
        other.decode_command(data)


def test_a_malformed_reference_is_a_codec_error(w):
    record = w.codec.decode(w.encode_command(report({})))[1]
    record["output"] = {"ref": "../etc/passwd", "size": 3}
    data = w.codec.encode("io.orchestrator.v1.commands.ReportTaskResult", record)
    with pytest.raises(CodecError, match="invalid ExternalPayload in field"):
        w.decode_command(data)


def test_user_data_shaped_like_a_reference_stays_user_data(w, store):
    lookalike = {"ref": content_ref(b"{}"), "size": 2}
    data = w.encode_command(report(lookalike))
    assert w.decode_command(data).output == lookalike
    assert store.gets == 0


def test_a_pass_through_reader_keeps_the_reference_and_writes_it_back(w, store):
    dispatch = DispatchTask(
        task_id="t-1", task_type="a", task_def_name="a", reference_task_name="a",
        workflow_instance_id="wf-1", root_workflow_id="wf-1", workflow_type="w",
        input_data=text_of(30 * KB), workflow_version=1, correlation_id=None, retry_count=0,
        poll_count=0, seq=1, scheduled_time=0, start_delay_in_seconds=0,
        response_timeout_seconds=60, callback_after_seconds=0, domain=None,
        workflow_priority=0, iteration=0, retried_task_id=None, timeout_seconds=0,
        rate_limit_per_frequency=0, rate_limit_frequency_in_seconds=1,
        concurrent_exec_limit=None,
    )  # fmt: skip
    data = w.encode_dispatch(dispatch)
    gets = store.gets
    held = w.decode_dispatch(data, resolve=False)
    assert isinstance(held.input_data, ExternalJson)
    assert store.gets == gets  # the gate never reads the payload
    assert w.encode_dispatch(held) == data
    assert Wire(get_codec()).encode_dispatch(held) == data  # not even a store is needed
    assert w.decode_dispatch(data).input_data == text_of(30 * KB)


def test_events_carry_references_too(w):
    started = WorkflowStarted(
        workflow_id="wf-1", root_workflow_id="wf-1", seq=1, at=1, actor="api",
        definition=workflow("w"), input=text_of(100 * KB),
    )  # fmt: skip
    data = w.encode_event(started)
    assert len(data) < 2 * KB
    assert w.decode_event(data) == started
    completed = TaskCompleted(
        workflow_id="wf-1", root_workflow_id="wf-1", seq=2, at=1, actor="w", task_id="t",
        output=text_of(100 * KB),
    )  # fmt: skip
    assert w.decode_event(w.encode_event(completed)) == completed


def test_every_json_field_has_a_payload_kind():
    kinds = {(t.name, name): kind for t in DOMAIN_TYPES for name, kind in json_fields(t)}
    assert kinds[("StartWorkflow", "input")] is PayloadKind.WORKFLOW_INPUT
    assert kinds[("WorkflowCompleted", "output")] is PayloadKind.WORKFLOW_OUTPUT
    assert kinds[("ChildWorkflowFinished", "output")] is PayloadKind.WORKFLOW_OUTPUT
    assert kinds[("RerunWorkflow", "task_input")] is PayloadKind.TASK_INPUT
    assert kinds[("TaskDispatch", "input_data")] is PayloadKind.TASK_INPUT
    assert kinds[("ReportTaskResult", "output")] is PayloadKind.TASK_OUTPUT
    assert kinds[("TaskSkipped", "input")] is PayloadKind.TASK_INPUT
    assert payload_kind("VariablesUpdated", "variables") is PayloadKind.WORKFLOW_OUTPUT
    assert kinds[("TaskCompletedWithErrors", "output")] is PayloadKind.TASK_OUTPUT
    assert len(kinds) == 24
