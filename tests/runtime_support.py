"""Helpers for end-to-end tests of the runtime on the real stack: processes, workers, the log.

Each test gets its own topic prefix, so processors, workers and readers of different tests never
see each other's records. Processes are real `orchestrator` subprocesses, so a test can kill -9
them exactly as an operator's crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.commands import ReportTaskResult, StartWorkflow
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.clients import take
from orchestrator.kafka.security import KafkaAccess, kafka_access
from orchestrator.kafka.topics import TopicNames, core_topics, task_topic_spec
from orchestrator.settings import Settings, load_settings


def now_ms() -> int:
    return int(time.time() * 1000)


def bootstrap() -> str:
    value = os.environ.get("ORCHESTRATOR_KAFKA_BOOTSTRAP")
    if not value:
        pytest.fail("ORCHESTRATOR_KAFKA_BOOTSTRAP is not set: run make stack-up (or make test)")
    return value


def kafka() -> KafkaAccess:
    """The test stack's cluster with its security, as the environment sets them (. .stack/env)."""
    bootstrap()  # fails with the clear message when the stack is not up
    return kafka_access(load_settings())


@dataclass
class Runtime:
    """One isolated deployment (topic prefix) on the shared test broker."""

    prefix: str
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        overrides = {"kafka_bootstrap": bootstrap(), "topic_prefix": self.prefix, "partitions": "4"}
        # The topics follow the cluster: a multi-broker stack's env file sets these.
        for name in ("replication_factor", "min_insync_replicas"):
            if value := os.environ.get(f"ORCHESTRATOR_{name.upper()}"):
                overrides[name] = value
        return load_settings(environ={}, overrides=overrides)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.prefix)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ORCHESTRATOR_KAFKA_BOOTSTRAP=bootstrap(),
            ORCHESTRATOR_TOPIC_PREFIX=self.prefix,
            ORCHESTRATOR_PARTITIONS="4",
            ORCHESTRATOR_STATE_DIR=str(self.log_dir / "state"),
            ORCHESTRATOR_LOG_LEVEL="INFO",
            ORCHESTRATOR_STATE_STORE_SCHEMA=self.state_store_schema,
        )
        return env

    @property
    def state_store_schema(self) -> str:
        """The processors' state store of this deployment (dropped with its topics)."""
        return "engine_" + self.prefix.lower().replace("-", "_").replace(".", "_")

    def create_topics(self, task_types: Iterable[str] = ()) -> None:
        s = self.settings
        specs = core_topics(s) + [task_topic_spec(s, t) for t in task_types]
        report = ensure_topics(s, specs, 15.0)
        assert report.ok, report.errors

    def start_processor(
        self, name: str = "processor", env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "processor"],
            env={**self.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        live = [proc for proc in self.processes if proc.poll() is None]
        for proc in live:  # ask for a stack dump first: the log then shows where each waited
            os.kill(proc.pid, signal.SIGUSR1)
        if live:
            time.sleep(0.5)
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def delete_topics(self) -> None:
        """The deployment's topics, and its state store schema."""
        admin_topics = [t for t in _all_topics(kafka()) if t.startswith(self.prefix)]
        delete_topics(kafka(), admin_topics, 15.0)
        _drop_schema(self.state_store_schema)


def _drop_schema(schema: str) -> None:
    import psycopg

    url = os.environ.get("ORCHESTRATOR_DATABASE_URL")
    if not url:
        return  # no database in this test run: nothing was stored
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _all_topics(boot: KafkaAccess) -> list[str]:
    from orchestrator.kafka.admin import admin_client

    return list(admin_client(boot, 10.0).list_topics(timeout=10).topics)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterable[Runtime]:
    rt = Runtime(prefix=f"e2e-{uuid.uuid4().hex[:10]}", log_dir=tmp_path)
    rt.create_topics()
    try:
        yield rt
    finally:
        rt.stop_all()
        rt.delete_topics()


class CommandSender:
    def __init__(self, rt: Runtime) -> None:
        self.topics = rt.topics
        self.producer = Producer(producer_config(kafka()))

    def start(
        self,
        definition: WorkflowDef,
        workflow_input: dict[str, Any] | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
    ) -> str:
        wid = str(uuid.uuid4())
        cmd = StartWorkflow(
            workflow_id=wid,
            at=now_ms(),
            actor="api:test",
            name=definition.name,
            version=definition.version,
            definition=definition,
            input=workflow_input or {},
        )
        self.producer.produce(
            self.topics.commands,
            key=wid.encode(),
            value=wire.encode_command(cmd),
            on_delivery=on_delivery,
        )
        return wid

    def send(self, command: Any) -> None:
        self.producer.produce(
            self.topics.commands, key=command.root.encode(), value=wire.encode_command(command)
        )

    def flush(self) -> None:
        assert self.producer.flush(15) == 0


Behaviour = Callable[[DispatchTask], tuple[TaskStatus, dict[str, Any]] | None]


def complete(dispatch: DispatchTask) -> tuple[TaskStatus, dict[str, Any]]:
    return TaskStatus.COMPLETED, {"done": dispatch.reference_task_name}


class RawWorker:
    """A minimal Kafka worker on the task topics (independent of the SDK under test).

    `behaviour` returns (status, output) or None to drop the task (a lost worker). Every task
    it executes is counted by task id, so tests can see redeliveries.
    """

    def __init__(
        self, rt: Runtime, task_types: Iterable[str], behaviour: Behaviour = complete
    ) -> None:
        self.rt = rt
        self.behaviour = behaviour
        self.executed: dict[str, int] = defaultdict(int)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap(),
                "group.id": f"{rt.prefix}-rawworker",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
                "fetch.wait.max.ms": 10,
            }
        )
        self.consumer.subscribe([rt.topics.task(t) for t in task_types])
        self.producer = Producer(producer_config(kafka()))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RawWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.producer.flush(10)
        self.consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in take(self.consumer, 500, 0.1):
                if msg.error():
                    continue
                dispatch = wire.decode_dispatch(msg.value())
                self.executed[dispatch.task_id] += 1
                result = self.behaviour(dispatch)
                if result is None:
                    continue
                status, output = result
                report = ReportTaskResult(
                    workflow_id=dispatch.workflow_instance_id,
                    root_workflow_id=dispatch.root_workflow_id,
                    at=now_ms(),
                    actor="worker:raw",
                    task_id=dispatch.task_id,
                    status=status,
                    output=output,
                    worker_id="raw",
                )
                self.producer.produce(
                    self.rt.topics.commands,
                    key=dispatch.root_workflow_id.encode(),
                    value=wire.encode_command(report),
                )
            self.producer.poll(0)


class EventLog:
    """Reads the events topic of a runtime; keeps every record, in order, per workflow."""

    def __init__(self, rt: Runtime) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap(),
                "group.id": f"{rt.prefix}-reader-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([rt.topics.events])
        self.records: dict[str, list[tuple[ev.Event, bytes]]] = defaultdict(list)

    def poll(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msgs = self.consumer.consume(2000, 0.1)
            for msg in msgs:
                if msg.error():
                    continue
                event = wire.decode_event(msg.value())
                self.records[event.workflow_id].append((event, msg.value()))

    def completed(self) -> set[str]:
        return {
            wid
            for wid, recs in self.records.items()
            if any(isinstance(e, ev.WorkflowCompleted) for e, _ in recs)
        }

    def wait_completed(self, ids: set[str], timeout_s: float) -> set[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll(0.5)
            if ids <= self.completed():
                break
        return ids - self.completed()

    def history(self, wid: str) -> list[ev.Event]:
        """The workflow's events with identical re-emissions dropped; fails on a conflict."""
        seen: dict[int, bytes] = {}
        out: list[ev.Event] = []
        for event, raw in self.records[wid]:
            if event.seq in seen:
                assert _body(seen[event.seq]) == _body(raw), (
                    f"workflow {wid}: two different events with seq {event.seq}:\n"
                    f"  first:  {wire.decode_event(seen[event.seq])!r:.1500}\n"
                    f"  second: {event!r:.1500}"
                )
                continue
            seen[event.seq] = raw
            out.append(event)
        return sorted(out, key=lambda e: e.seq)

    def close(self) -> None:
        self.consumer.close()


def _body(raw: bytes) -> bytes:
    return raw  # identical re-emission: the whole record, header included, is byte-identical
