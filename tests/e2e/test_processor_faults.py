"""Kill -9 the processor mid-run: nothing is lost, nothing is doubled (ADR 0003).

Real broker, real `orchestrator processor` subprocesses, a raw worker on the task topics. The
checks are the issue's: every workflow completes, every task completes exactly once in its
history, every workflow's events have gap-free sequence numbers, and a seq re-emitted after a
crash is byte-identical to the first copy (never a different event with the same seq).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.definitions_json import parse_workflow_def
from tests.runtime_support import (
    CommandSender,
    EventLog,
    RawWorker,
    Runtime,
    complete,
    kill9,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

TASKS = ("fault_a", "fault_b", "fault_c")
WORKFLOWS = 200


def three_step_definition():
    return parse_workflow_def(
        {
            "name": "three_steps",
            "version": 1,
            "tasks": [
                {
                    "name": name,
                    "taskReferenceName": f"step{i}",
                    "inputParameters": {"n": "${workflow.input.n}"},
                    "taskDefinition": {"name": name, "responseTimeoutSeconds": 60},
                }
                for i, name in enumerate(TASKS)
            ],
        }
    )


def wait_for_progress(log: EventLog, completed_tasks: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    done = 0
    while time.monotonic() < deadline:
        log.poll(0.2)
        done = sum(
            isinstance(e, ev.TaskCompleted) for recs in log.records.values() for e, _ in recs
        )
        if done >= completed_tasks:
            break
    return done


def wait_until_ready(rt: Runtime, log_name_prefix: str, count: int, timeout_s: float) -> None:
    """Until `count` processor logs say their partitions were recovered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = [
            p for p in rt.log_dir.glob(f"{log_name_prefix}*.log") if b"recovered" in p.read_bytes()
        ]
        if len(ready) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"processors not ready within {timeout_s} s; logs in {rt.log_dir}")


def describe_stuck(log: EventLog, missing: set[str], limit: int = 5) -> str:
    """The last events of a few workflows that did not complete (for the failure message)."""
    lines = []
    for wid in sorted(missing)[:limit]:
        tail = [f"{e.seq}:{type(e).__name__}" for e, _ in log.records[wid][-4:]]
        lines.append(f"{wid}: ... {' '.join(tail) or 'no events'}")
    return "\n".join(lines)


def assert_exactly_once(log: EventLog, ids: set[str]) -> None:
    for wid in ids:
        history = log.history(wid)  # fails on two different events with one seq
        seqs = [e.seq for e in history]
        assert seqs == list(range(1, len(seqs) + 1)), f"{wid}: gaps in {seqs}"
        refs = {e.task_id: e.ref for e in history if isinstance(e, ev.TaskScheduled)}
        completed = Counter(refs[e.task_id] for e in history if isinstance(e, ev.TaskCompleted))
        assert completed == Counter({"step0": 1, "step1": 1, "step2": 1}), (wid, completed)
        ends = [e for e in history if isinstance(e, ev.WorkflowCompleted)]
        assert len(ends) == 1, f"{wid}: {len(ends)} WorkflowCompleted"


def test_processor_killed_mid_run_loses_and_doubles_nothing(runtime: Runtime) -> None:
    runtime.create_topics(TASKS)
    first = runtime.start_processor()
    wait_until_ready(runtime, "processor", 1, 60)
    sender, log = CommandSender(runtime), EventLog(runtime)
    definition = three_step_definition()
    with RawWorker(runtime, TASKS, slow_complete):
        ids = {sender.start(definition, {"n": i}) for i in range(WORKFLOWS)}
        sender.flush()
        progress = wait_for_progress(log, WORKFLOWS, 90)
        assert progress < WORKFLOWS * len(TASKS), "everything finished before the kill"
        kill9(first)
        runtime.start_processor()
        missing = log.wait_completed(ids, 150)
    assert not missing, (
        f"{len(missing)} workflows did not complete after the restart:\n"
        + describe_stuck(log, missing)
    )
    assert_exactly_once(log, ids)
    log.close()


def test_surviving_processor_takes_over_the_partitions_of_a_killed_one(runtime: Runtime) -> None:
    runtime.create_topics(TASKS)
    first = runtime.start_processor()
    runtime.start_processor()
    wait_until_ready(runtime, "processor", 2, 60)
    time.sleep(2)  # let the group settle on two members
    sender, log = CommandSender(runtime), EventLog(runtime)
    definition = three_step_definition()
    survivor_log = runtime.log_dir / "processor-1.log"
    with RawWorker(runtime, TASKS, slow_complete):
        ids = {sender.start(definition, {"n": i}) for i in range(WORKFLOWS)}
        sender.flush()
        progress = wait_for_progress(log, WORKFLOWS // 2, 90)
        kill9(first)  # no restart: the survivor must finish everything
        assert progress < WORKFLOWS * len(TASKS), "everything finished before the kill"
        before_kill = survivor_log.stat().st_size
        missing = log.wait_completed(ids, 150)
    assert not missing, (
        f"{len(missing)} workflows did not complete on the surviving processor:\n"
        + describe_stuck(log, missing)
    )
    assert_exactly_once(log, ids)
    log.close()
    # The takeover really happened: after the kill, the survivor recovered every partition.
    after = survivor_log.read_bytes()[before_kill:]
    assert b"holding [0, 1, 2, 3]" in after, f"no takeover in {survivor_log}"


def slow_complete(dispatch):
    """Completes every task after 5 ms, so that work is left on both processors at the kill."""
    time.sleep(0.005)
    return complete(dispatch)
