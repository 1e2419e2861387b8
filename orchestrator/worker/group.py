"""Run several worker functions in one process: ``run_workers`` (blocking) or ``WorkerGroup``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from orchestrator.flow.presence import PresenceAnnouncer
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.clients import new_producer
from orchestrator.kafka.topics import (
    TopicNames,
    core_topics,
    presence_topic_spec,
    task_topic_spec,
)
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.setup import configure_process
from orchestrator.secrets import SecretProvider
from orchestrator.settings import Settings, load_settings
from orchestrator.worker.registry import WorkerSpec, spec_of
from orchestrator.worker.reporter import Reporter
from orchestrator.worker.runner import TaskRunner

log = logging.getLogger(__name__)
DEFAULT_GRACE_SECONDS = 30.0


class WorkerStartupError(RuntimeError):
    """The workers cannot start (e.g. their topics cannot be created)."""


class WorkerCrashed(RuntimeError):
    """A poll loop stopped on an unexpected error."""


def as_specs(workers: Iterable[Any]) -> list[WorkerSpec]:
    specs = []
    for worker in workers:
        spec = worker if isinstance(worker, WorkerSpec) else spec_of(worker)
        if spec is None:
            raise TypeError(f"{worker!r} is not decorated with @worker_task")
        specs.append(spec)
    return specs


class WorkerGroup:
    """Worker functions polling their task topics, each in its own thread.

    ``with WorkerGroup([fn], settings): ...`` starts them and stops them gracefully on exit.
    """

    def __init__(
        self,
        workers: Iterable[Any],
        settings: Settings | None = None,
        *,
        secrets: Callable[[str], str | None] | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self.specs = as_specs(workers)
        if not self.specs:
            raise ValueError("no worker functions given")
        self.settings = settings or load_settings()
        self.secrets = secrets or SecretProvider.from_settings(self.settings)
        self.grace_seconds = grace_seconds
        self.stop_event = threading.Event()
        self.worker_id = self.settings.worker_id
        self.producer: Any = None
        self.runners: list[TaskRunner] = []
        self._threads: list[threading.Thread] = []

    def ensure_topics(self) -> None:
        s = self.settings
        commands = [t for t in core_topics(s) if t.name == TopicNames.from_settings(s).commands]
        specs = commands + [task_topic_spec(s, w.task_type, w.domain) for w in self.specs]
        specs.append(presence_topic_spec(s))
        report = ensure_topics(s, specs)
        for warning in report.warnings:
            log.warning("%s", warning)
        if not report.ok:
            raise WorkerStartupError("; ".join(report.errors))

    def start(self) -> None:
        self.ensure_topics()
        # Large inputs arrive as references and large results leave as references (ADR 0011).
        configure_process(self.settings)
        self.producer = new_producer(self.settings, client_id=self.worker_id)
        commands = TopicNames.from_settings(self.settings).commands
        policy = PayloadPolicy.from_settings(self.settings)
        reporter = Reporter(self.producer, commands, self.worker_id, policy=policy)
        presence = PresenceAnnouncer.for_producer(
            self.producer, TopicNames.from_settings(self.settings).presence
        )
        for spec in self.specs:
            runner = TaskRunner(
                spec,
                self.settings,
                reporter,
                self.secrets,
                self.stop_event,
                self.grace_seconds,
                presence,
            )
            thread = threading.Thread(target=runner.run, name=f"poll-{spec.task_type}", daemon=True)
            self.runners.append(runner)
            self._threads.append(thread)
        # Delivery reports are served as they arrive, so a runner waiting for room in its
        # window wakes at once (and not on its next loop turn).
        self._threads.append(
            threading.Thread(target=self._serve_deliveries, name="results-poll", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def _serve_deliveries(self) -> None:
        while not self.stop_event.is_set():
            self.producer.poll(0.05)

    def describe(self) -> list[str]:
        """One line per worker: what it polls (printed by ``orchestrator worker``)."""
        names = TopicNames.from_settings(self.settings)
        lines = []
        for spec in self.specs:
            kind = "async" if spec.is_async else "threads"
            lines.append(
                f"{spec.task_type:<24} <- {names.task(spec.task_type, spec.domain)}  "
                f"{spec.name}  concurrency={spec.concurrency} ({kind})"
            )
        return lines

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (signal or ``stop``); True when stopped."""
        return self.stop_event.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Stop consuming, let running tasks finish (grace period), flush results, commit."""
        self.stop_event.set()
        limit = self.grace_seconds + 10 if timeout is None else timeout
        for thread in self._threads:
            thread.join(limit)
        if self.producer is not None:
            left = self.producer.flush(10)
            if left:
                log.error("%d task result(s) not delivered at shutdown", left)

    def __enter__(self) -> WorkerGroup:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_workers(
    *workers: Any,
    settings: Settings | None = None,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    on_start: Callable[[WorkerGroup], None] | None = None,
) -> None:
    """Run the given @worker_task functions until SIGTERM or SIGINT, then stop gracefully."""
    group = WorkerGroup(workers, settings, grace_seconds=grace_seconds)

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping workers (grace %.0f s)", signum, grace_seconds)
        group.stop_event.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    group.start()
    if on_start is not None:
        on_start(group)
    try:
        while not group.wait(0.5):
            dead = [t.name for t in group._threads if not t.is_alive()]
            if dead:  # a loop died on an error (logged): do not run on half staffed
                raise WorkerCrashed(f"worker loop(s) stopped on an error: {', '.join(dead)}")
    finally:
        group.stop()
