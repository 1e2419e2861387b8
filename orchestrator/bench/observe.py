"""Read the run back from the event log: what happened, and when (a consumer thread).

Times: a start's "started" and a workflow's "completed" are the Kafka timestamps (CreateTime,
set by the processor's producer) of its WorkflowStarted / WorkflowCompleted records. Hand-offs
use the workers' own clocks carried in the events: TaskCompleted.at is when a worker reported a
result, TaskPickedUp.at when a worker accepted the next dispatch (its acknowledgement), or,
for a task reported without one (the SDK's deferred acknowledgement), its TaskCompleted.started_at:
the same moment, the worker's clock when it took the task.

Only the event types needed are decoded (picked by the schema fingerprint in the record's
header): the observer shares the 2 cores with what it measures.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.codec import wire
from orchestrator.codec.wire_convert import from_timestamp
from orchestrator.codec.wire_types import EVENTS
from orchestrator.domain import events as ev
from orchestrator.kafka.clients import new_reader, take

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka


def _fingerprints() -> dict[bytes, type]:
    codec = wire.default_wire().codec
    return {codec.fingerprint(t.full_name): t.cls for t in EVENTS}


@dataclass
class Observations:
    """Everything the report needs; times in epoch ms; buckets are epoch seconds."""

    started_at: dict[str, int] = field(default_factory=dict)  # root id -> WorkflowStarted ts
    completed_at: dict[str, int] = field(default_factory=dict)  # root id -> WorkflowCompleted ts
    failed: set[str] = field(default_factory=set)
    refs: dict[str, str] = field(default_factory=dict)  # task id -> ref
    results: dict[tuple[str, str], int] = field(default_factory=dict)  # (root, ref) -> at
    picked: dict[tuple[str, str], int] = field(default_factory=dict)  # (root, ref) -> at
    events: Counter[int] = field(default_factory=Counter)  # bucket -> events
    event_bytes: Counter[int] = field(default_factory=Counter)
    task_results: Counter[int] = field(default_factory=Counter)  # worker results accepted
    result_bytes: Counter[int] = field(default_factory=Counter)  # their records' size
    starts: Counter[int] = field(default_factory=Counter)
    completions: Counter[int] = field(default_factory=Counter)
    offsets: dict[int, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))


class EventObserver:
    """Consumes the events topic from the beginning in a thread, filling ``Observations``."""

    def __init__(self, kafka: Kafka, topic: str, group: str, track_offsets: bool) -> None:
        self.obs = Observations()
        self.lock = threading.Lock()
        self.track_offsets = track_offsets  # for the projection lag: (offset, ts) per partition
        self._types = _fingerprints()
        self._codec = wire.default_wire().codec
        self._consumer = new_reader(
            kafka,
            **{
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,  # no added latency: see kafka/clients.py
            },
        )
        self._consumer.subscribe([topic])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-observer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = take(self._consumer, 2000, 0.1)
            with self.lock:
                for msg in messages:
                    if msg.error() is None:
                        self._record(msg)

    def _record(self, msg: object) -> None:
        value: bytes = msg.value()  # type: ignore[attr-defined]
        ts: int = msg.timestamp()[1]  # type: ignore[attr-defined]
        o = self.obs
        bucket = ts // 1000
        o.events[bucket] += 1
        o.event_bytes[bucket] += len(value)
        if self.track_offsets:
            o.offsets[msg.partition()].append((msg.offset(), ts))  # type: ignore[attr-defined]
        cls = self._types.get(value[2:10])
        if cls is ev.WorkflowStarted:
            root = msg.key().decode()  # type: ignore[attr-defined]
            if root not in o.started_at:  # the first start under a root key is the root's own
                o.started_at[root] = ts
                o.starts[bucket] += 1
        elif cls in (ev.TaskScheduled, ev.TaskCompleted, ev.TaskPickedUp):
            self._task_event(cls, self._codec.decode(value)[1], ts, len(value))
        elif cls in (ev.WorkflowCompleted, ev.WorkflowFailed, ev.WorkflowTerminated):
            head = self._codec.decode(value)[1]["header"]
            wid, root = head["workflow_id"], head["root_workflow_id"]
            if wid == root or not root:
                if cls is ev.WorkflowCompleted:
                    o.completed_at.setdefault(wid, ts)
                    o.completions[bucket] += 1
                else:
                    o.failed.add(wid)

    def _task_event(self, cls: type, record: dict[str, Any], ts: int, size: int) -> None:
        """From the raw Avro record: the JSON payloads stay unparsed (this shares the CPU)."""
        o = self.obs
        head = record["header"]
        root = head["root_workflow_id"] or head["workflow_id"]
        task_id = record["task_id"]
        if cls is ev.TaskScheduled:
            o.refs[task_id] = record["ref"]
            return
        ref = o.refs.get(task_id)
        if cls is ev.TaskPickedUp:
            if ref is not None:
                o.picked.setdefault((root, ref), from_timestamp(head["occurred_at"]))
        elif record["worker_id"] is not None:  # TaskCompleted from a worker
            o.task_results[ts // 1000] += 1
            o.result_bytes[ts // 1000] += size
            if ref is not None:
                o.results.setdefault((root, ref), from_timestamp(head["occurred_at"]))
                if record["started_at"] is not None:
                    o.picked.setdefault((root, ref), record["started_at"])

    def snapshot(self) -> tuple[int, int, int, int]:
        """(workflows started, completed, worker results, events) so far."""
        with self.lock:
            o = self.obs
            return (len(o.started_at), len(o.completed_at), sum(o.task_results.values()),
                    sum(o.events.values()))  # fmt: skip


def wait_quiet(observer: EventObserver, expected: int, timeout_s: float) -> None:
    """Wait until ``expected`` root workflows completed (or failed), or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with observer.lock:
            done = len(observer.obs.completed_at) + len(observer.obs.failed)
        if done >= expected:
            return
        time.sleep(0.25)
