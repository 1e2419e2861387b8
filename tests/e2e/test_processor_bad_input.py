"""Bad records on the commands topic go to the dead-letter topic; the processor keeps going."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.kafka.aio import producer_config
from tests.e2e.test_processor_faults import TASKS, three_step_definition, wait_until_ready
from tests.runtime_support import (
    CommandSender,
    EventLog,
    RawWorker,
    Runtime,
    bootstrap,
    kafka,
    now_ms,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.timeout(180)]


def test_undecodable_commands_are_dead_lettered_and_the_processor_goes_on(runtime: Runtime) -> None:
    runtime.create_topics(TASKS)
    runtime.start_processor()
    wait_until_ready(runtime, "processor", 1, 60)
    raw = Producer(producer_config(kafka()))
    garbage = b"\x00\x01not avro at all"
    # a well-formed record of the wrong kind: an event where a command belongs
    an_event = wire.encode_event(
        ev.WorkflowPaused(workflow_id="w", root_workflow_id="w", seq=1, at=now_ms(), actor="x")
    )
    raw.produce(runtime.topics.commands, key=b"bad-1", value=garbage)
    raw.produce(runtime.topics.commands, key=b"bad-2", value=an_event)
    raw.flush(10)
    sender, log = CommandSender(runtime), EventLog(runtime)
    with RawWorker(runtime, TASKS):
        wid = sender.start(three_step_definition(), {"n": 1})
        sender.flush()
        assert not log.wait_completed({wid}, 60), "a good workflow after bad records did not finish"
    letters = read_dead_letters(runtime, 2, 30)
    by_key = {letter.key: letter for letter in letters}
    assert set(by_key) == {b"bad-1", b"bad-2"}
    assert by_key[b"bad-1"].value == garbage and by_key[b"bad-1"].component == "processor"
    assert by_key[b"bad-1"].topic == runtime.topics.commands and by_key[b"bad-1"].reason
    assert "WorkflowPaused" in by_key[b"bad-2"].reason or "command" in by_key[b"bad-2"].reason
    log.close()


def read_dead_letters(
    runtime: Runtime, count: int, timeout_s: float
) -> list[wire.wire_infra.DeadLetter]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"{runtime.prefix}-dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([runtime.topics.dlq])
    letters = []
    deadline = time.monotonic() + timeout_s
    while len(letters) < count and time.monotonic() < deadline:
        for msg in consumer.consume(100, 0.2):
            if not msg.error():
                letters.append(wire.decode_dead_letter(msg.value()))
    consumer.close()
    return letters
