"""`orchestrator event-handlers`: run Conductor's event handlers (docs/events.md)."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading

import typer

from orchestrator.settings import Settings, settings_of

log = logging.getLogger(__name__)


def event_handlers(ctx: typer.Context) -> None:
    """Run the event handlers: consume the event queues (EVENT tasks with sink `conductor`) and
    the Kafka topics that `kafka:<topic>` handlers name, and run the matching active handlers'
    actions (start a workflow, complete or fail a task) as commands (ADR 0009).

    Start one or more (`orchestrator serve` starts one): they share the partitions through a
    consumer group.
    """
    raise typer.Exit(run_event_handlers(settings_of(ctx)))


def run_event_handlers(settings: Settings) -> int:
    from orchestrator.events.processor import EventProcessor
    from orchestrator.kafka.admin import KafkaUnavailable, ensure_topics
    from orchestrator.kafka.topics import core_topics

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        report = ensure_topics(settings, core_topics(settings), 15.0)
    except KafkaUnavailable as exc:
        print(f"orchestrator event-handlers: {exc}", file=sys.stderr)
        return 1
    if not report.ok:
        for line in report.errors:
            print(f"orchestrator event-handlers: {line}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("event handlers: signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    EventProcessor(settings).run(stop)
    return 0
