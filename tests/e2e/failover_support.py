"""Failover measurements on the real stack (issue #15): a steady load, a kill -9, the gap.

- ``Load``: starts a one-task workflow every ``1/rate`` s (a RawWorker completes the tasks) and
  notes when each workflow's WorkflowCompleted reaches the events topic. ``gap(kill_at)`` is the
  time from the kill until, on *every* commands partition, a workflow started after the kill
  has completed: until all of the killed process's partitions serve new work again.
- ``Supervised``: `orchestrator serve`'s Supervisor (engine/supervisor.py) run in a thread over
  the children a test names, each logging to ``<log_dir>/<name>.log``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import Consumer

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import WorkflowDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.engine.supervisor import POLL_S, Child, Supervisor
from orchestrator.kafka.clients import murmur2_partition
from orchestrator.settings import load_settings
from tests.runtime_support import CommandSender, Runtime, bootstrap

BUDGET_S = 10.0  # issue #15: partitions served again within 10 s of a kill -9


def one_task_workflow(name: str, task_type: str, inline_task_def: bool = True) -> WorkflowDef:
    task: dict[str, Any] = {"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}
    if inline_task_def:
        task["taskDefinition"] = {"name": task_type, "responseTimeoutSeconds": 60}
    return parse_workflow_def({"name": name, "version": 1, "tasks": [task]})


class Load:
    def __init__(self, rt: Runtime, definition: WorkflowDef, rate: float = 20.0) -> None:
        self.rt = rt
        self.definition = definition
        self.period = 1.0 / rate
        self.partitions = rt.settings.partitions
        self.sent: dict[str, float] = {}
        self.failed: dict[str, str] = {}  # starts whose delivery Kafka reported as failed
        self.completed: dict[str, float] = {}
        self._sender = CommandSender(rt)
        self._reader = Consumer(
            {
                "bootstrap.servers": bootstrap(),
                "group.id": f"{rt.prefix}-load-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        self._reader.subscribe([rt.topics.events])
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, name="load-send", daemon=True),
            threading.Thread(target=self._read, name="load-read", daemon=True),
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._reader.close()
        self._sender.flush()

    def _send(self) -> None:
        producer = self._sender.producer
        while not self._stop.is_set():
            wid = self._sender.start(self.definition, {}, on_delivery=self._delivered)
            self.sent[wid] = time.monotonic()
            producer.poll(0)
            self._stop.wait(self.period)

    def wait_sent(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.sent) < count:
            assert time.monotonic() < deadline, f"only {len(self.sent)} of {count} starts sent"
            time.sleep(0.1)

    def _delivered(self, error: Any, msg: Any) -> None:
        if error is not None:
            self.failed[msg.key().decode()] = str(error)

    def _read(self) -> None:
        while not self._stop.is_set():
            for msg in self._reader.consume(1000, 0.05):
                if msg.error() is not None:
                    continue
                event = wire.decode_event(msg.value())
                if isinstance(event, ev.WorkflowCompleted):
                    self.completed.setdefault(event.workflow_id, time.monotonic())

    def wait_flowing(self, timeout_s: float = 60.0, done: dict[str, float] | None = None) -> None:
        """Until work has completed on every partition (the deployment is warm)."""
        flowing = lambda: len(self.served_partitions(0.0, done)) == self.partitions  # noqa: E731
        if not wait_for(flowing, timeout_s):
            raise AssertionError(f"the load did not flow on every partition in {timeout_s} s")

    def served_partitions(
        self, since: float, done: dict[str, float] | None = None
    ) -> dict[int, float]:
        """Per partition: when a workflow sent after ``since`` was first seen done (by default
        its WorkflowCompleted on the events topic)."""
        done = self.completed if done is None else done
        first: dict[int, float] = {}
        for wid, sent in list(self.sent.items()):
            at = done.get(wid)
            if sent > since and at is not None:
                p = murmur2_partition(wid, self.partitions)
                first[p] = min(first.get(p, at), at)
        return first

    def gap(
        self, kill_at: float, timeout_s: float = 60.0, done: dict[str, float] | None = None
    ) -> float:
        """Seconds from ``kill_at`` until new work was done on every partition."""
        every = lambda: len(self.served_partitions(kill_at, done)) == self.partitions  # noqa: E731
        wait_for(every, timeout_s)
        first = self.served_partitions(kill_at, done)
        missing = set(range(self.partitions)) - set(first)
        assert not missing, f"partitions {sorted(missing)} not served {timeout_s} s after the kill"
        return max(first.values()) - kill_at


class RowWatch:
    """Notes when each workflow of a Load shows up COMPLETED in the read model (Postgres)."""

    def __init__(self, load: Load, database_url: str) -> None:
        self.load = load
        self.url = database_url
        self.visible: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="row-watch", daemon=True)

    def __enter__(self) -> RowWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                waiting = [w for w in list(self.load.sent) if w not in self.visible]
                rows = conn.execute(
                    "SELECT workflow_id FROM workflows "
                    "WHERE workflow_id = ANY(%s) AND status = 'COMPLETED'",
                    (waiting,),
                ).fetchall()
                now = time.monotonic()
                for (wid,) in rows:
                    self.visible[wid] = now
                self._stop.wait(0.05)


def wait_for(check: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return check()


class Supervised:
    """The Supervisor over ``names`` (orchestrator subcommands, or ``slot:subcommand`` for
    several children of one subcommand), polled in a thread."""

    def __init__(
        self, rt: Runtime, names: Iterable[str], env: dict[str, str] | None = None
    ) -> None:
        self.rt = rt
        overrides = {"kafka_bootstrap": bootstrap(), "topic_prefix": rt.prefix, "partitions": "4"}
        overrides.update({"state_dir": str(rt.log_dir / "state"), "log_level": "INFO"})
        overrides["state_store_schema"] = rt.state_store_schema
        for name in ("replication_factor", "min_insync_replicas"):  # as the runtime's topics
            if value := os.environ.get(f"ORCHESTRATOR_{name.upper()}"):
                overrides[name] = value
        settings = load_settings(environ={}, overrides={**overrides, **(env or {})})
        children = [self._child(name) for name in names]
        self.lines: list[str] = []
        self.supervisor = Supervisor(settings, children, self.lines.append, standby=True)
        self.supervisor.env["PYTHONUNBUFFERED"] = "1"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def _child(self, name: str) -> Child:
        slot, _, command = name.partition(":")
        log = self.rt.log_dir / f"{slot}.log"
        script = f'exec "{sys.executable}" -m orchestrator {command or slot} >>"{log}" 2>&1'
        return Child(slot, ["sh", "-c", script], owns_partitions=True)

    def __enter__(self) -> Supervised:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.supervisor.poll()
                time.sleep(POLL_S)
        finally:
            self.supervisor.stop()

    def child(self, name: str) -> Child:
        return next(c for c in self.supervisor.children if c.name == name)

    def log_text(self, name: str) -> str:
        path = self.rt.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_standby_ready(self, name: str, timeout_s: float = 90.0) -> None:
        """Until the child's spare has done its imports and waits to take over."""

        def ready() -> bool:
            spare = self.child(name).standby
            return spare is not None and f"standby ready (pid {spare.pid})" in self.log_text(name)

        if not wait_for(ready, timeout_s, 0.3):
            raise AssertionError(f"no {name} standby ready in {timeout_s} s: {self.lines}")
