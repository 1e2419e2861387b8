"""Start a processor process: topics first, then the faust worker."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from orchestrator.settings import Settings

log = logging.getLogger(__name__)

KAFKA_WAIT_S = 600.0  # how long a processor started before its broker waits for it
KAFKA_RETRY_S = 2.0


def run_processor(settings: Settings, scripts: Any = None) -> None:
    """`scripts`: the script evaluator (default: the real one, DefaultScriptEvaluator); a test
    may wrap it to inject a fault (tests/e2e/faulty_processor.py)."""
    import faulthandler
    import signal

    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a stuck
    # processor waits, without stopping it.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from faust.worker import Worker

    from orchestrator.adapters.scripting import DefaultScriptEvaluator
    from orchestrator.engine.processor import Processor
    from orchestrator.kafka.admin import KafkaUnavailable, ensure_topics
    from orchestrator.kafka.topics import core_topics
    from orchestrator.standby import hold_if_standby

    hold_if_standby()  # a spare of `orchestrator serve` waits here, imports done
    report = None
    waited = 0.0
    while report is None:  # Kafka starting (or restarting) is waited for, not a crash
        try:
            report = ensure_topics(settings, core_topics(settings), 15.0)
        except KafkaUnavailable as exc:
            if waited >= KAFKA_WAIT_S:
                print(f"orchestrator processor: {exc}", file=sys.stderr)
                sys.exit(1)
            log.warning("waiting for Kafka (%s); retrying in %.0f s", exc, KAFKA_RETRY_S)
            time.sleep(KAFKA_RETRY_S)
            waited += KAFKA_RETRY_S + 15.0
    if not report.ok:
        for line in report.errors:
            print(f"orchestrator processor: {line}", file=sys.stderr)
        sys.exit(1)
    if scripts is None:
        scripts = DefaultScriptEvaluator(
            timeout_ms=settings.script_timeout_ms,
            memory_limit_bytes=settings.script_memory_mb * 1024 * 1024,
        )
    processor = Processor(settings, scripts)
    from orchestrator.gctune import tune_for_service

    tune_for_service()  # after the imports and the script engine: see gctune.py
    worker = Worker(
        processor.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
