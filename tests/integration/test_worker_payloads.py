"""The worker SDK and large payloads on the real Kafka: a task whose input is in the payload
store waits while the store cannot be reached (no dead letter, nothing skipped), then runs with
the full input once it can."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer

from orchestrator.codec import get_codec
from orchestrator.codec.wire import Wire, set_default_payloads
from orchestrator.domain.commands import ReportTaskResult
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.clients import producer_config
from orchestrator.kafka.topics import TopicNames, task_topic_spec
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.store import MemoryPayloadStore
from orchestrator.settings import Settings
from orchestrator.worker import WorkerGroup, worker_task
from orchestrator.worker.testing import CommandsReader, make_dispatch
from tests.e2e.large_payload_stack import read_topic
from tests.integration.test_worker_sdk import kafka_settings

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


@pytest.fixture
def settings() -> Iterator[Settings]:
    yield from kafka_settings(payload_store_url=UNREACHABLE)
    set_default_payloads(None)  # WorkerGroup installed the unreachable store in this process


def test_a_task_waits_for_its_stored_input_and_runs_with_all_of_it(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "orchestrator.worker.runner")

    @worker_task("measure_stored")
    def measure(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"length": len(task_input["blob"])}

    reachable = Payloads(MemoryPayloadStore(), PayloadPolicy.defaults())
    dispatch = make_dispatch("measure_stored", {"blob": "s" * 100_000})
    value = Wire(get_codec(), reachable).encode_dispatch(dispatch)
    assert len(value) < 2_000  # the input is in the (reachable) store
    spec = task_topic_spec(settings, "measure_stored")
    assert ensure_topics(settings, [spec], 15.0).ok
    producer = Producer(producer_config(settings))
    producer.produce(spec.name, key=dispatch.task_id.encode(), value=value)
    assert producer.flush(10) == 0
    reader = CommandsReader(settings)
    try:
        with WorkerGroup([measure], settings, grace_seconds=2):
            deadline = time.monotonic() + 60
            while "unreachable" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.2)
            time.sleep(2)  # more attempts: still waiting, still nothing reported
            assert not [
                r for r in reader.records if getattr(r.command, "task_id", None) == dispatch.task_id
            ]
            set_default_payloads(reachable)  # the store is back
            record = reader.wait_for(
                lambda c: isinstance(c, ReportTaskResult) and c.task_id == dispatch.task_id, 30
            )
    finally:
        reader.close()
    assert record.command.output == {"length": 100_000}
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage) == 1 and "logged once" in outage[0].getMessage()
    dlq = TopicNames.from_settings(settings).dlq
    assert [v for v in read_topic(dlq, time.monotonic() + 5, idle=2) if v] == []
