"""Durable timers: a processor killed -9 while WAITs are pending; after the restart every WAIT
completes exactly once, at (or just after) its due time, never early."""

from __future__ import annotations

import time

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.definitions_json import parse_workflow_def
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, EventLog, Runtime, kill9

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

WAIT_S = 6
WORKFLOWS = 50


def test_pending_timers_survive_a_processor_kill_and_fire_once(runtime: Runtime) -> None:
    definition = parse_workflow_def(
        {
            "name": "sleepy",
            "version": 1,
            "tasks": [
                {
                    "name": "nap",
                    "taskReferenceName": "nap",
                    "type": "WAIT",
                    "inputParameters": {"duration": f"{WAIT_S} seconds"},
                }
            ],
        }
    )
    first = runtime.start_processor()
    wait_until_ready(runtime, "processor", 1, 60)
    sender, log = CommandSender(runtime), EventLog(runtime)
    ids = {sender.start(definition) for _ in range(WORKFLOWS)}
    sender.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # every WAIT is scheduled (its timer is pending)...
        log.poll(0.3)
        if all(any(isinstance(e, ev.TaskScheduled) for e, _ in log.records[w]) for w in ids):
            break
    kill9(first)  # ...and the processor dies with all of them pending
    runtime.start_processor()
    missing = log.wait_completed(ids, 90)
    assert not missing, f"{len(missing)} WAITs never fired after the restart"
    for wid in ids:
        history = log.history(wid)
        scheduled = next(e for e in history if isinstance(e, ev.TaskScheduled))
        done = [e for e in history if isinstance(e, ev.TaskCompleted)]
        assert len(done) == 1, f"{wid}: the WAIT completed {len(done)} times"
        assert done[0].actor == "timer"
        assert done[0].at >= scheduled.at + WAIT_S * 1000, "a timer fired early"
    log.close()
