"""One real stack per test module: a topic prefix, a processor and a worker process set.

The end-to-end tests of the task types, secrets and the demo share this: a module starts its
stack once (`stack_for_module`), starts all of its workflows at once, and each test then waits
on the event log for the workflow it checks. Processes are real `orchestrator processor` and
`orchestrator worker` subprocesses; their logs are files in the module's log directory.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.topics import TopicSpec, definition_key
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, EventLog, Runtime, bootstrap, kafka, now_ms

REPO = Path(__file__).resolve().parents[2]
ENDS = (ev.WorkflowCompleted, ev.WorkflowFailed, ev.WorkflowTerminated)


def start_process(
    rt: Runtime, command: list[str], name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`orchestrator COMMAND...` as a subprocess of the runtime, logging to <log_dir>/<name>.log."""
    full_env = rt.env()
    full_env["PYTHONPATH"] = str(REPO)
    full_env["PYTHONUNBUFFERED"] = "1"  # every line reaches the log file, even on kill -9
    full_env.update(env or {})
    log = open(rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *command],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rt.processes.append(proc)
    return proc


def start_worker(
    rt: Runtime,
    targets: list[str],
    name: str,
    *,
    system: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`orchestrator worker TARGET... [--system]`."""
    args = ["worker", *targets, "--grace", "1", *(["--system"] if system else [])]
    return start_process(rt, args, name, env)


def register(rt: Runtime, definitions: Iterable[WorkflowDef | TaskDef]) -> None:
    """Publish definitions to the definitions topic, as the metadata API does."""
    producer = Producer(producer_config(kafka()))
    for definition in definitions:
        if isinstance(definition, WorkflowDef):
            key = definition_key("workflow", definition.name, definition.version)
        else:
            key = definition_key("task", definition.name)
        value = wire.encode_definition(definition, registered_at=now_ms(), actor="api:e2e")
        producer.produce(rt.topics.definitions, key=key.encode(), value=value)
    assert producer.flush(15) == 0, "definitions not delivered"


def create_plain_topics(rt: Runtime, names: Iterable[str]) -> None:
    """Topics the workflows publish to (EVENT / KAFKA_PUBLISH sinks): the broker creates none."""
    specs = [TopicSpec(name, 1, {"cleanup.policy": "delete"}) for name in names]
    report = ensure_topics(kafka(), specs, 15.0)
    assert report.ok, report.errors


def read_topic(topic: str, timeout_s: float = 15.0) -> list[Any]:
    """Every record of `topic`, from the beginning to its end as of now (raw messages)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": f"e2e-scan-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        ends, positions = {}, {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout_s)
            if high > low:
                ends[p], positions[p] = high, low
        consumer.assign([TopicPartition(topic, p, low) for p, low in positions.items()])
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(positions[p] < high for p, high in ends.items()):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for msg in consumer.consume(1000, 0.2):
                if msg.error():
                    continue
                records.append(msg)
                positions[msg.partition()] = msg.offset() + 1
        return records
    finally:
        consumer.close()


@dataclass
class Stack:
    """A running deployment: send commands, read the event log, wait for workflows to end."""

    rt: Runtime
    sender: CommandSender
    log: EventLog
    ids: dict[str, str] = field(default_factory=dict)

    def start(
        self, name: str, definition: dict[str, Any] | WorkflowDef, workflow_input: Any = None
    ) -> str:
        wd = definition if isinstance(definition, WorkflowDef) else parse_workflow_def(definition)
        wid = self.sender.start(wd, workflow_input or {})
        self.ids[name] = wid
        return wid

    def wait_ended(self, wids: Iterable[str], timeout_s: float = 60.0) -> None:
        wanted = set(wids)
        deadline = time.monotonic() + timeout_s
        while True:
            missing = {w for w in wanted if self.end_of(w) is None}
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(missing)} workflow(s) did not end within {timeout_s} s: "
                    f"{sorted(missing)}; rejections: {self.rejections(missing)}; "
                    f"dead letters: {len(read_topic(self.rt.topics.dlq))}; "
                    f"logs in {self.rt.log_dir}"
                )
            self.log.poll(0.3)

    def rejections(self, wids: set[str]) -> list[str]:
        """The engine's rejections of commands of these workflows (for failure messages)."""
        found = []
        for msg in read_topic(self.rt.topics.rejections):
            r = wire.decode_rejection(msg.value())
            if r.workflow_id in wids or r.root_workflow_id in wids:
                found.append(f"{r.command_type} {r.code}: {r.reason}")
        return found

    def wait_for(self, wid: str, predicate: Any, timeout_s: float = 30.0) -> ev.Event:
        """The first event of `wid` matching `predicate`, waiting for it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = next((e for e, _ in self.log.records[wid] if predicate(e)), None)
            if found is not None:
                return found
            self.log.poll(0.3)
        raise AssertionError(f"{wid}: no matching event within {timeout_s} s")

    def end_of(self, wid: str) -> ev.Event | None:
        return next((e for e, _ in self.log.records[wid] if isinstance(e, ENDS)), None)

    def finished(self, name_or_id: str, timeout_s: float = 60.0) -> list[ev.Event]:
        """The whole history of a workflow (by scenario name or id) once it has ended."""
        wid = self.ids.get(name_or_id, name_or_id)
        self.wait_ended([wid], timeout_s)
        self.log.poll(0.3)  # events after the end (none expected) would show as a failure
        history = self.log.history(wid)
        seqs = [e.seq for e in history]
        assert seqs == list(range(1, len(seqs) + 1)), f"{wid}: gaps in {seqs}"
        assert sum(isinstance(e, ENDS) for e in history) == 1, f"{wid}: ended twice"
        return history


@contextlib.contextmanager
def stack_for_module(
    log_dir: Path,
    *,
    workers: list[str],
    system: bool = False,
    definitions: Iterable[WorkflowDef | TaskDef] = (),
    sink_topics: Iterable[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Topics, definitions, a processor and one worker process; torn down (topics deleted) after."""
    rt = Runtime(prefix=f"e2e-{uuid.uuid4().hex[:10]}", log_dir=log_dir)
    rt.create_topics()
    sender: CommandSender | None = None
    log: EventLog | None = None
    try:
        create_plain_topics(rt, [s.format(prefix=rt.prefix) for s in sink_topics])
        register(rt, definitions)
        start_processor(rt, env)
        start_worker(rt, workers, "worker", system=system, env=env)
        wait_until_ready(rt, "processor", 1, 60)
        sender, log = CommandSender(rt), EventLog(rt)
        yield Stack(rt, sender, log)
    finally:
        if log is not None:
            log.close()
        rt.stop_all()
        rt.delete_topics()


def start_processor(rt: Runtime, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return start_process(rt, ["processor"], f"processor-{len(rt.processes)}", env)


# -- reading a history ----------------------------------------------------------------------


def scheduled(history: list[ev.Event], ref: str) -> list[ev.TaskScheduled]:
    """Every attempt of the task `ref` (loop-suffixed ref), in order."""
    return [e for e in history if isinstance(e, ev.TaskScheduled) and e.ref == ref]


def of_task(history: list[ev.Event], task_id: str, kind: type | None = None) -> list[ev.Event]:
    return [
        e
        for e in history
        if getattr(e, "task_id", None) == task_id and (kind is None or isinstance(e, kind))
    ]


def picked_up_at(history: list[ev.Event], task_id: str) -> int:
    """When a worker took the task: its TaskPickedUp, or the ``started_at`` its first report
    carried instead (the SDK's deferred acknowledgement of a task that ends or heartbeats within
    ``ack_after_ms``, ADR 0007)."""
    for e in of_task(history, task_id):
        if isinstance(e, ev.TaskPickedUp):
            return e.at
        started = getattr(e, "started_at", None)
        if started is not None:
            return int(started)
    raise AssertionError(f"task {task_id} was never picked up")


def fold(history: list[ev.Event]) -> WorkflowState:
    """The workflow's state as the engine folds its log (events carry output deltas)."""
    state: WorkflowState | None = None
    for event in history:
        state = evolve(state, event)
    assert state is not None, "no events"
    return state


def output_of(history: list[ev.Event], ref: str) -> Any:
    """The output of the task `ref` (its current attempt), which must have COMPLETED."""
    task = fold(history).current(ref)
    assert task is not None, f"task {ref} was never scheduled"
    assert task.status is TaskStatus.COMPLETED, f"task {ref} is {task.status}"
    return task.output


def the(history: list[ev.Event], kind: type) -> Any:
    found = [e for e in history if isinstance(e, kind)]
    assert len(found) == 1, f"{len(found)} {kind.__name__} events"
    return found[0]
