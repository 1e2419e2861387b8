"""A worker's result always becomes a record that can be produced (worker/results.py): large
outputs go by reference, outputs over the maximum fail the task with the reason, a store outage
is retried then reported, oversized logs are dropped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.codec import get_codec, wire
from orchestrator.codec.wire import Wire, set_default_payloads
from orchestrator.domain.commands import ReportTaskResult
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import KB, PayloadKind, PayloadPolicy
from orchestrator.payloads.store import MemoryPayloadStore
from orchestrator.worker.results import encode_result
from orchestrator.worker.task import Outcome

POLICY = PayloadPolicy(
    thresholds=dict.fromkeys(PayloadKind, 8 * KB),
    maximums=dict.fromkeys(PayloadKind, 64 * KB),
    record_max=32 * KB,
)


@pytest.fixture
def store() -> Iterator[MemoryPayloadStore]:
    store = MemoryPayloadStore()
    set_default_payloads(Payloads(store, POLICY))
    yield store
    set_default_payloads(None)


def command(outcome: Outcome) -> ReportTaskResult:
    return ReportTaskResult(
        workflow_id="wf-1", at=1, actor="worker:w", task_id="t-1", status=outcome.status,
        output=outcome.output, reason=outcome.reason, logs=outcome.logs,
    )  # fmt: skip


def reported(data: bytes) -> ReportTaskResult:
    result = wire.decode_command(data)
    assert isinstance(result, ReportTaskResult)
    return result


def test_a_large_output_is_reported_by_reference(store: MemoryPayloadStore):
    output = {"blob": "z" * (40 * KB)}
    data = encode_result(command, Outcome(TaskStatus.COMPLETED, output), POLICY, "t-1")
    assert len(data) < KB
    assert reported(data).output == output
    assert store.puts == 1


def test_an_output_over_the_maximum_fails_the_task_for_good_with_size_and_limit(store):
    output = {"blob": "z" * (64 * KB)}
    data = encode_result(command, Outcome(TaskStatus.COMPLETED, output), POLICY, "t-1")
    result = reported(data)
    assert result.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.output == {}
    assert result.reason == (
        f"The output of task t-1 is {64 * KB + 11} bytes of JSON, greater than the permissible "
        f"limit of {64 * KB} bytes for a task output (ORCHESTRATOR_MAX_TASK_OUTPUT_PAYLOAD_KB)"
    )


def test_an_output_at_the_maximum_is_accepted(store):
    output = {"blob": "z" * (64 * KB - 11)}
    data = encode_result(command, Outcome(TaskStatus.COMPLETED, output), POLICY, "t-1")
    assert reported(data).status is TaskStatus.COMPLETED


def test_a_store_outage_is_retried_then_reported_as_a_retriable_failure(store):
    store.fail = "connection refused"
    pauses: list[float] = []
    output = {"blob": "z" * (40 * KB)}
    data = encode_result(
        command, Outcome(TaskStatus.COMPLETED, output), POLICY, "t-1", sleep=pauses.append
    )
    result = Wire(get_codec()).decode_command(data)
    assert result.status is TaskStatus.FAILED
    assert "could not be stored in the payload store: connection refused" in (result.reason or "")
    assert pauses == [0.5, 2.0]


def test_a_store_back_within_the_retries_stores_the_result(store):
    store.fail = "connection refused"

    def recover(_: float) -> None:
        store.fail = None

    output = {"blob": "z" * (40 * KB)}
    data = encode_result(command, Outcome(TaskStatus.COMPLETED, output), POLICY, "t-1", recover)
    assert reported(data).output == output


def test_logs_too_large_for_a_record_are_dropped_and_the_result_kept(store):
    logs = tuple("l" * 1000 for _ in range(50))
    outcome = Outcome(TaskStatus.COMPLETED, {"ok": True}, None, logs)
    result = reported(encode_result(command, outcome, POLICY, "t-1"))
    assert result.status is TaskStatus.COMPLETED and result.output == {"ok": True}
    assert len(result.logs) == 1 and result.logs[0].startswith("50 log lines (50000 characters)")
