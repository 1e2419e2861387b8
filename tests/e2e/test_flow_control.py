"""Flow control on the real stack: rate limits, concurrency limits and workflow priority.

One deployment for the module: two processors, two task gates and three worker processes (each
polling every type). The workers log when each task starts and ends (flow_control_workers.py),
so the limits are measured where they matter, across processes; the gate's own Released records
are read from the gate topic to check its decisions exactly.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.domain.commands import StartWorkflow
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.flow.records import Kind, decode_control, is_control
from orchestrator.flow.status import read_gate_status
from orchestrator.kafka.clients import murmur2_partition
from tests.e2e.e2e_support import (
    Stack,
    read_topic,
    register,
    start_process,
    start_processor,
    start_worker,
)
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, EventLog, Runtime, kafka, kill9, now_ms

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

RATE, WINDOW_S = 4, 1  # flow_rated: 4 per second
CONCURRENCY = 2  # flow_conc
TASK_DEFS = [
    TaskDef("flow_rated", rate_limit_per_frequency=RATE, rate_limit_frequency_in_seconds=WINDOW_S),
    TaskDef("flow_conc", concurrent_exec_limit=CONCURRENCY),
    TaskDef("flow_prio", concurrent_exec_limit=1),
]


def one_task_workflow(task_type: str) -> Any:
    return parse_workflow_def(
        {
            "name": f"wf_{task_type}",
            "version": 1,
            "tasks": [
                {
                    "name": task_type,
                    "taskReferenceName": "only",
                    "type": "SIMPLE",
                    "inputParameters": {"label": "${workflow.input.label}"},
                }
            ],
        }
    )


class FlowStack(Stack):
    flow_log: Path

    def start_many(self, task_type: str, labels: list[str], priority: int = 0) -> list[str]:
        definition = one_task_workflow(task_type)
        ids = []
        for label in labels:
            wid = str(uuid.uuid4())
            command = StartWorkflow(
                workflow_id=wid,
                at=now_ms(),
                actor="api:test",
                name=definition.name,
                version=1,
                definition=definition,
                input={"label": label},
                priority=priority,
            )
            self.sender.send(command)
            ids.append(wid)
        self.sender.flush()
        return ids

    def worker_lines(self, task_type: str) -> list[dict[str, Any]]:
        if not self.flow_log.exists():
            return []
        lines = [json.loads(line) for line in self.flow_log.read_text().splitlines() if line]
        return [line for line in lines if line["type"] == task_type]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowStack]:
    log_dir = tmp_path_factory.mktemp("flow")
    rt = Runtime(prefix=f"e2e-{uuid.uuid4().hex[:10]}", log_dir=log_dir)
    rt.create_topics()
    flow_log = log_dir / "worker-starts.jsonl"
    env = {"FLOW_LOG": str(flow_log)}
    log: EventLog | None = None
    try:
        register(rt, TASK_DEFS)
        for _ in range(2):
            start_processor(rt)
        for i in range(2):
            start_process(rt, ["gate"], f"gate-{i}")
        for i in range(3):
            start_worker(rt, ["tests.e2e.flow_control_workers"], f"worker-{i}", env=env)
        wait_until_ready(rt, "processor", 2, 90)
        wait_for_log(rt, "gate-", b"gate assigned", 2, 60)
        log = EventLog(rt)
        flow = FlowStack(rt, CommandSender(rt), log)
        flow.flow_log = flow_log
        yield flow
    finally:
        if log is not None:
            log.close()
        rt.stop_all()
        rt.delete_topics()


def wait_for_log(rt: Runtime, prefix: str, needle: bytes, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        logs = list(rt.log_dir.glob(f"{prefix}*.log"))
        if sum(needle in p.read_bytes() for p in logs) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{count} {prefix} logs do not say {needle!r}; logs in {rt.log_dir}")


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def gate_releases(rt: Runtime, task_type: str) -> list[int]:
    """Release times (ms) the gate recorded for a type, one per task (a takeover may repeat)."""
    found: dict[str, int] = {}
    for msg in read_topic(rt.topics.gate):
        if msg.key() == task_type.encode() and is_control(msg.value()):
            record = decode_control(msg.value())
            if record.kind is Kind.RELEASED:
                found.setdefault(record.task_id, record.at)
    return sorted(found.values())


def test_rate_limit_holds_across_processors_gates_and_workers(stack: FlowStack) -> None:
    count = 24
    ids = stack.start_many("flow_rated", [f"r{i}" for i in range(count)])

    stack.wait_ended(ids, timeout_s=90)

    starts = [line["t"] for line in stack.worker_lines("flow_rated") if line["event"] == "start"]
    assert len(starts) >= count
    # The gate's own decisions: never more than RATE releases in any window.
    released = gate_releases(stack.rt, "flow_rated")
    assert len(released) == count
    assert most_in_any_window([t / 1000 for t in released], WINDOW_S) <= RATE
    # Where it matters: when the workers' functions started, in any sliding window (the gate
    # counts each hand-out from then, and every released task until then: ADR 0006).
    assert most_in_any_window(starts, WINDOW_S) <= RATE, sorted(starts)
    # Throttled, not just fast: 24 releases at 4 per window span at least 5 windows.
    gate_span = (released[-1] - released[0]) / 1000
    assert gate_span >= (count / RATE - 1) * WINDOW_S - 0.05, f"gate span {gate_span:.2f} s"
    span = max(starts) - min(starts)
    assert span >= (count / RATE - 2) * WINDOW_S, f"workers' span {span:.2f} s"
    status = read_gate_status(kafka(), stack.rt.topics.gate_status)
    assert status["flow_rated"]["rateLimitPerFrequency"] == RATE


def test_concurrency_limit_holds_across_worker_processes(stack: FlowStack) -> None:
    count = 16
    ids = stack.start_many("flow_conc", [f"c{i}" for i in range(count)])

    stack.wait_ended(ids, timeout_s=90)

    lines = stack.worker_lines("flow_conc")
    most = most_running(stack, "flow_conc", "c")
    assert sum(1 for line in lines if line["event"] == "start") >= count
    assert most <= CONCURRENCY, f"{most} tasks ran at once (limit {CONCURRENCY})"
    assert len({line["pid"] for line in lines}) >= 2  # the limit is cluster-wide, not per process


def test_a_limit_added_to_a_registered_definition_applies_without_a_restart(
    stack: FlowStack,
) -> None:
    register(stack.rt, [TaskDef("flow_live")])
    time.sleep(2)  # the processors' definitions views follow the topic continuously
    before = stack.start_many("flow_live", [f"a{i}" for i in range(8)])
    stack.wait_ended(before, timeout_s=60)
    assert most_running(stack, "flow_live", "a") >= 2  # no limit yet: they overlap

    register(stack.rt, [TaskDef("flow_live", concurrent_exec_limit=1)])
    time.sleep(2)
    after = stack.start_many("flow_live", [f"b{i}" for i in range(8)])
    stack.wait_ended(after, timeout_s=60)

    assert most_running(stack, "flow_live", "b") == 1


def most_running(stack: FlowStack, task_type: str, prefix: str) -> int:
    lines = [line for line in stack.worker_lines(task_type) if line["label"].startswith(prefix)]
    changes = sorted((line["t"], 1 if line["event"] == "start" else -1) for line in lines)
    running, most = 0, 0
    for _, delta in changes:
        running += delta
        most = max(most, running)
    return most


def test_higher_priority_tasks_overtake_a_backlog_started_earlier(stack: FlowStack) -> None:
    lows = stack.start_many("flow_prio", [f"low{i}" for i in range(8)], priority=0)
    deadline = time.monotonic() + 60
    while not any(line["event"] == "start" for line in stack.worker_lines("flow_prio")):
        assert time.monotonic() < deadline, "no flow_prio task started"
        time.sleep(0.05)
    highs = stack.start_many("flow_prio", [f"high{i}" for i in range(3)], priority=80)

    stack.wait_ended(lows + highs, timeout_s=90)

    order = [
        line["label"]
        for line in sorted(stack.worker_lines("flow_prio"), key=lambda line: line["t"])
        if line["event"] == "start"
    ]
    assert len(order) >= 11
    last_high = max(i for i, label in enumerate(order) if label.startswith("high"))
    # At most two lows (the one running, one released while the highs were on their way)
    # start before the last high; without priority the highs would come after all 8 lows.
    assert last_high <= 4, f"start order: {order}"
    status = read_gate_status(kafka(), stack.rt.topics.gate_status)
    assert status["flow_prio"]["concurrentExecLimit"] == 1


def test_gate_killed_mid_backlog_is_replaced_without_loss_or_excess(stack: FlowStack) -> None:
    owner = gate_owning(stack.rt, "flow_conc")
    count = 16
    ids = stack.start_many("flow_conc", [f"k{i}" for i in range(count)])
    deadline = time.monotonic() + 60
    while len(started(stack, "flow_conc", "k")) < 3:
        assert time.monotonic() < deadline, "the backlog did not start"
        time.sleep(0.05)

    kill9(owner)  # tasks held in its gate partition, two in flight

    stack.wait_ended(ids, timeout_s=120)
    lines = [line for line in stack.worker_lines("flow_conc") if line["label"].startswith("k")]
    assert len({line["label"] for line in lines if line["event"] == "end"}) == count
    most = most_running(stack, "flow_conc", "k")
    assert most <= CONCURRENCY, f"{most} tasks ran at once after the takeover"


def started(stack: FlowStack, task_type: str, prefix: str) -> list[dict[str, Any]]:
    return [
        line
        for line in stack.worker_lines(task_type)
        if line["event"] == "start" and line["label"].startswith(prefix)
    ]


def gate_owning(rt: Runtime, task_type: str) -> subprocess.Popen[bytes]:
    """The gate process whose latest assignment holds the type's gate partition."""
    partition = murmur2_partition(task_type, rt.settings.partitions)
    gates = [p for p in rt.processes if list(p.args)[-1] == "gate"]
    for i, proc in enumerate(gates):
        text = (rt.log_dir / f"gate-{i}.log").read_text()
        assigned = [line for line in text.splitlines() if "gate assigned" in line]
        if assigned and re.search(rf"\b{partition}@", assigned[-1].split("gate assigned")[1]):
            return proc
    raise AssertionError(f"no gate owns partition {partition}; logs in {rt.log_dir}")
