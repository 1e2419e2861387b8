"""Start the gate process: topics, the definitions and presence views, the loop, signals."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading

from orchestrator.settings import Settings

log = logging.getLogger(__name__)


def run_gate(settings: Settings) -> int:
    from orchestrator.flow.gate import Gate
    from orchestrator.flow.presence import PresenceView
    from orchestrator.kafka.admin import KafkaUnavailable, ensure_topics
    from orchestrator.kafka.topics import core_topics, gate_topic_specs
    from orchestrator.standby import hold_if_standby

    hold_if_standby()  # a spare of `orchestrator serve` waits here, imports done
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where a stuck gate waits
    try:
        specs = [*core_topics(settings), *gate_topic_specs(settings)]
        report = ensure_topics(settings, specs, 15.0)
    except KafkaUnavailable as exc:
        print(f"orchestrator gate: {exc}", file=sys.stderr)
        return 1
    if not report.ok:
        for line in report.errors:
            print(f"orchestrator gate: {line}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("gate: signal %s, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Gate(settings, lambda: PresenceView.from_settings(settings, "gate")).run(stop)
    return 0
