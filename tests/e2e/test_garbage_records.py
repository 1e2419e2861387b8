"""Garbage on every topic the gate, the projector, the task bridge and the worker consume: each
record goes to the dead-letter topic with the reason, set aside by the component that read it,
and the component keeps serving (a workflow through it completes afterwards). Real processes on
the real Kafka and Postgres; the processor's own commands topic is tests/e2e/
test_processor_bad_input.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from orchestrator.codec import get_codec, wire
from orchestrator.codec.wire import Wire
from orchestrator.codec.wire_infra import DeadLetter
from orchestrator.domain import events as ev
from orchestrator.domain.effects import DispatchTask
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.clients import producer_config
from orchestrator.kafka.topics import task_topic_spec
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.store import MemoryPayloadStore
from tests.e2e.large_payload_stack import Stack, large_payload_stack, read_topic
from tests.e2e.test_large_payloads import TASK_DEFS, WORKFLOWS, _poll, _result
from tests.runtime_support import kafka

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

NOT_AVRO = b"\x00garbage, not a record"
UNKNOWN_SCHEMA = b"\xc3\x01" + os.urandom(8) + b"body"
HUGE = b"\xc3\x01" + b"\xff" * 990_000  # near Kafka's limit: too large to copy into a letter
GARBAGE = [NOT_AVRO, UNKNOWN_SCHEMA, HUGE]


def _elsewhere() -> Wire:
    """A codec whose payload store is not the deployment's: its references point nowhere."""
    return Wire(get_codec(), Payloads(MemoryPayloadStore(), PayloadPolicy.defaults()))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with large_payload_stack(Path(tmp_path_factory.mktemp("garbage"))) as stack:
        with stack.http as http:
            assert http.post("/metadata/taskdefs", json=TASK_DEFS).status_code == 200
            for wf in WORKFLOWS:
                body = {**wf, "version": 1, "schemaVersion": 2}
                assert http.post("/metadata/workflow", json=body).status_code == 200
        time.sleep(2)
        yield stack


def produce(topic: str, values: list[bytes | None], key: bytes = b"garbage") -> None:
    """Produce and check every delivery (flush() also counts a failed record as done)."""
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer(producer_config(kafka(), extra={"message.max.bytes": 1_000_000}))
    for value in values:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert not failures, failures


def set_aside(stack: Stack, component: str, topic: str, count: int) -> list[DeadLetter]:
    """The dead letters a component (``worker:`` matches any worker) wrote for records of
    ``topic``, read from the dead-letter topic once there are at least ``count``."""
    deadline = time.monotonic() + 90
    mine: list[DeadLetter] = []
    while time.monotonic() < deadline:
        letters = [
            wire.decode_dead_letter(v)
            for v in read_topic(stack.rt.topics.dlq, time.monotonic() + 20, idle=2)
            if v is not None
        ]
        mine = [d for d in letters if d.topic == topic and d.component.startswith(component)]
        if len(mine) >= count:
            return mine
        time.sleep(1)
    raise AssertionError(f"{len(mine)} dead letters from {component} for {topic}\n{stack.logs()}")


def assert_letters(letters: list[DeadLetter], values: list[bytes | None]) -> None:
    by_value = {d.value: d for d in letters}
    for value in values:
        if value is HUGE:
            big = [d for d in letters if d.value is None and "is not copied" in d.reason]
            assert big, [d.reason for d in letters]
            assert f"the original value, {len(HUGE)} bytes" in big[0].reason
        else:
            assert value in by_value, (value, [d.reason for d in letters])
            assert by_value[value].reason  # why, for the operator
    assert {d.key for d in letters} == {b"garbage"}


def completes(stack: Stack, name: str, workflow_input: dict[str, object]) -> None:
    done = stack.workflow(stack.start(name, workflow_input))
    assert done["status"] == "COMPLETED", (done.get("reasonForIncompletion"), stack.logs())


def test_the_projector_sets_aside_garbage_events_and_definitions(stack: Stack):
    missing_payload = _elsewhere().encode_event(
        ev.WorkflowCompleted(
            workflow_id="ghost", root_workflow_id="ghost", seq=2, at=1, actor="x",
            output={"blob": "q" * 100_000},
        )
    )  # fmt: skip
    produce(stack.rt.topics.events, [*GARBAGE, missing_payload])
    produce(stack.rt.topics.definitions, [NOT_AVRO, UNKNOWN_SCHEMA])
    letters = set_aside(stack, "projector", stack.rt.topics.events, 4)
    assert_letters([d for d in letters if d.value != missing_payload], GARBAGE)
    (ghost,) = [d for d in letters if d.value == missing_payload]
    assert "WorkflowCompleted.output: no payload sha256:" in ghost.reason
    definitions = set_aside(stack, "projector", stack.rt.topics.definitions, 2)
    assert_letters(definitions, [NOT_AVRO, UNKNOWN_SCHEMA])
    completes(stack, "pl_measure_flow", {"blob": "still projected"})


def test_the_gate_sets_aside_garbage_on_its_topic_and_on_presence(stack: Stack):
    completes(stack, "pl_gated_flow", {})  # the gate has assigned its partitions
    produce(stack.rt.topics.gate, GARBAGE)
    produce(stack.rt.topics.presence, [NOT_AVRO, b"{not json"])
    assert_letters(set_aside(stack, "gate", stack.rt.topics.gate, 3), GARBAGE)
    assert_letters(set_aside(stack, "gate", stack.rt.topics.presence, 2), [NOT_AVRO, b"{not json"])
    completes(stack, "pl_gated_flow", {})


def _dispatch_with_missing_payload(stack: Stack, task_type: str) -> bytes:
    dispatch = DispatchTask(
        task_id="ghost-task", task_type=task_type, task_def_name=task_type,
        reference_task_name="ghost", workflow_instance_id="ghost", root_workflow_id="ghost",
        workflow_type="ghost", input_data={"blob": "q" * 100_000}, workflow_version=1,
        correlation_id=None, retry_count=0, poll_count=0, seq=1, scheduled_time=0,
        start_delay_in_seconds=0, response_timeout_seconds=60, callback_after_seconds=0,
        domain=None, workflow_priority=0, iteration=0, retried_task_id=None, timeout_seconds=0,
        rate_limit_per_frequency=0, rate_limit_frequency_in_seconds=1, concurrent_exec_limit=None,
    )  # fmt: skip
    return _elsewhere().encode_dispatch(dispatch)


def test_the_worker_sets_aside_garbage_tasks_and_keeps_working(stack: Stack):
    topic = task_topic_spec(stack.rt.settings, "pl_measure").name
    ghost = _dispatch_with_missing_payload(stack, "pl_measure")
    produce(topic, [*GARBAGE, None, ghost])
    letters = set_aside(stack, "worker:", topic, 5)
    (missing,) = [d for d in letters if d.value == ghost]
    assert "TaskDispatch.input_data: no payload sha256:" in missing.reason
    tombstones = [d for d in letters if d.value is None and "not copied" not in d.reason]
    assert len(tombstones) == 1
    assert_letters([d for d in letters if d is not missing and d not in tombstones], GARBAGE)
    completes(stack, "pl_measure_flow", {"blob": "still working"})


def test_the_task_bridge_sets_aside_garbage_tasks_and_keeps_handing_out(stack: Stack):
    spec = task_topic_spec(stack.rt.settings, "pl_http_task")
    assert ensure_topics(kafka(), [spec], 15.0).ok
    topic = spec.name
    ghost = _dispatch_with_missing_payload(stack, "pl_http_task")
    produce(topic, [*GARBAGE, ghost])
    workflow_id = stack.start("pl_http_flow", {})
    task = _poll(stack)  # the bridge reads past the garbage to the real task
    assert task["workflowInstanceId"] == workflow_id
    with stack.http as http:
        assert http.post("/tasks", json=_result(task, {"blob": "ok"})).status_code == 200
    letters = set_aside(stack, "api:task-bridge", topic, 4)
    (missing,) = [d for d in letters if d.value == ghost]
    assert "TaskDispatch.input_data: no payload sha256:" in missing.reason
    assert_letters([d for d in letters if d is not missing], GARBAGE)
    assert stack.workflow(workflow_id)["status"] == "COMPLETED"


def test_every_service_is_still_up_without_a_traceback(stack: Stack):
    assert not stack.alive()
    for name in ("gate", "projector", "api", "worker"):
        assert "Traceback" not in stack.log(name), f"{name}:\n{stack.log(name)[-5000:]}"
