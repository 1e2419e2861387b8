"""Helpers to test worker functions: run one without Kafka, or feed and watch the real topics.

```python
from orchestrator.worker.testing import run_local

def test_resize_reports_the_new_size():
    outcome = run_local(resize, {"url": "s3://b/cat.png", "width": 64})
    assert outcome.status == "COMPLETED" and outcome.output["width"] == 64
```
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.domain.effects import DispatchTask
from orchestrator.worker.execute import run_sync
from orchestrator.worker.registry import WorkerSpec, spec_of
from orchestrator.worker.task import Outcome


def make_dispatch(task_type: str, input_data: Any = None, **fields: Any) -> DispatchTask:
    """A DispatchTask as the engine would send it (fresh ids; override any field)."""
    workflow_id = fields.pop("workflow_instance_id", None) or str(uuid.uuid4())
    base = DispatchTask(
        task_id=str(uuid.uuid4()),
        task_type=task_type,
        reference_task_name=f"{task_type}_ref",
        task_def_name=task_type,
        input_data={} if input_data is None else input_data,
        workflow_instance_id=workflow_id,
        root_workflow_id=workflow_id,
        workflow_type="test_workflow",
        workflow_version=1,
        correlation_id=None,
        retry_count=0,
        poll_count=0,
        seq=1,
        scheduled_time=int(time.time() * 1000),
        start_delay_in_seconds=0,
        response_timeout_seconds=3600,
        callback_after_seconds=0,
        domain=None,
        workflow_priority=0,
        iteration=0,
        retried_task_id=None,
        timeout_seconds=0,
        rate_limit_per_frequency=0,
        rate_limit_frequency_in_seconds=0,
        concurrent_exec_limit=None,
    )
    return replace(base, **fields)


@dataclass
class Heartbeats:
    """The heartbeats a function sent while running under ``run_local``."""

    calls: list[tuple[int, dict[str, Any] | None, tuple[str, ...]]]


def run_local(
    worker: Callable[..., Any] | WorkerSpec,
    task: Any = None,
    *,
    secrets: Mapping[str, str] | None = None,
    heartbeats: Heartbeats | None = None,
) -> Outcome:
    """Run a @worker_task function (sync or async) on ``task`` (an input dict or a
    DispatchTask) exactly as the worker runtime would, without Kafka."""
    spec = worker if isinstance(worker, WorkerSpec) else spec_of(worker)
    if spec is None:
        raise TypeError(f"{worker!r} is not decorated with @worker_task")
    dispatch = task if isinstance(task, DispatchTask) else make_dispatch(spec.task_type, task)
    lookup = dict(secrets or {}).get
    beats = heartbeats if heartbeats is not None else Heartbeats([])

    def beat(callback_after_seconds: int, output: Any, logs: Any) -> None:
        beats.calls.append((callback_after_seconds, output, logs))

    if spec.is_async:
        import asyncio

        from orchestrator.worker.execute import run_async

        return asyncio.run(run_async(spec, dispatch, lookup, beat))
    return run_sync(spec, dispatch, lookup, beat)


# -- against a real broker --------------------------------------------------------------------


_ENSURED: set[tuple[str, str]] = set()
_PRODUCERS: dict[str, Any] = {}


def produce_dispatch(settings: Any, dispatch: DispatchTask, *, producer: Any = None) -> None:
    """Put ``dispatch`` on its task topic, as the engine does (key = the task id)."""
    from confluent_kafka import Producer

    from orchestrator.codec import wire
    from orchestrator.kafka.clients import producer_config
    from orchestrator.kafka.topics import TopicNames

    topic = TopicNames.from_settings(settings).task(dispatch.task_type, dispatch.domain)
    if (settings.kafka_bootstrap, topic) not in _ENSURED:  # as the engine does before dispatching
        from orchestrator.kafka.admin import ensure_topics
        from orchestrator.kafka.topics import task_topic_spec

        spec = task_topic_spec(settings, dispatch.task_type, dispatch.domain)
        if not ensure_topics(settings, [spec]).ok:
            raise RuntimeError(f"cannot create {topic}")
        _ENSURED.add((settings.kafka_bootstrap, topic))
    own = producer is None
    if producer is None:  # one per cluster: a new idempotent producer costs ~0.5 s to set up
        producer = _PRODUCERS.get(settings.kafka_bootstrap)
        if producer is None:
            producer = Producer(producer_config(settings))
            _PRODUCERS[settings.kafka_bootstrap] = producer
    producer.produce(topic, key=dispatch.task_id.encode(), value=wire.encode_dispatch(dispatch))
    if own:
        producer.flush(10)


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    partition: int
    command: Any


class CommandsReader:
    """Reads the commands topic from the beginning (its own consumer group)."""

    def __init__(self, settings: Any) -> None:
        from orchestrator.kafka.clients import new_reader
        from orchestrator.kafka.topics import TopicNames

        self._consumer = new_reader(
            settings,
            **{
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
        self._consumer.subscribe([TopicNames.from_settings(settings).commands])
        self.records: list[Record] = []

    def poll(self, seconds: float) -> list[Record]:
        """Every record that arrives within ``seconds`` (also kept in ``records``)."""
        from orchestrator.codec import wire

        deadline = time.monotonic() + seconds
        got = []
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is None or message.error():
                continue
            value = message.value() or b""
            record = Record(
                message.key(), value, message.partition() or 0, wire.decode_command(value)
            )
            got.append(record)
            self.records.append(record)
        return got

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 20.0) -> Record:
        """The first record (seen before or arriving within ``timeout``) whose command matches."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for record in self.records[seen:]:
                if predicate(record.command):
                    return record
            seen = len(self.records)
            if time.monotonic() >= deadline:
                raise AssertionError(f"no matching command within {timeout} s")
            self.poll(0.2)

    def close(self) -> None:
        self._consumer.close()
