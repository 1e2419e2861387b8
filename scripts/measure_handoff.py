#!/usr/bin/env python3
"""Measure, on the real stack, the hand-off latency and the timer lateness of the runtime.

- hand-off: from a worker producing a task's result to the next task of the workflow arriving
  at a worker (result -> commands topic -> processor -> task topic -> worker), per task;
- timers: how late a WAIT of 1 s completes, measured from the engine's due time.

Starts its own `orchestrator processor` on a fresh topic prefix (deleted at the end); needs
the stack (`make stack-up`, then `. .stack/env`). Not a test: prints figures.

    python scripts/measure_handoff.py --workflows 200 --tasks 10 --rate 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.commands import ReportTaskResult, StartWorkflow, TaskStarted
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.statuses import TaskStatus
from orchestrator.kafka.admin import admin_client, delete_topics, ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.clients import new_reader, take
from orchestrator.kafka.security import KafkaAccess, kafka_access
from orchestrator.kafka.topics import TopicNames, core_topics, task_topic_spec
from orchestrator.settings import load_settings


def now_ms() -> int:
    return int(time.time() * 1000)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=10, help="sequential tasks per workflow")
    parser.add_argument("--rate", type=float, default=50.0, help="workflow starts per second")
    parser.add_argument(
        "--waits", type=int, default=50, help="WAIT(1 s) workflows for timer lateness"
    )
    args = parser.parse_args()

    boot = os.environ.get("ORCHESTRATOR_KAFKA_BOOTSTRAP")
    if not boot:
        sys.exit("ORCHESTRATOR_KAFKA_BOOTSTRAP is not set: run make stack-up, then . .stack/env")
    prefix = f"measure-{uuid.uuid4().hex[:8]}"
    settings = load_settings(overrides={"kafka_bootstrap": boot, "topic_prefix": prefix})
    boot = kafka_access(settings)  # the cluster with its security (TLS, SASL) from the environment
    topics = TopicNames(prefix)
    ensure_topics(boot, [*core_topics(settings), task_topic_spec(settings, "step")], 15.0)
    state = Path(tempfile.mkdtemp(prefix="measure-"))
    env = dict(os.environ, ORCHESTRATOR_TOPIC_PREFIX=prefix, ORCHESTRATOR_STATE_DIR=str(state))
    log = open(state / "processor.log", "wb")  # noqa: SIM115
    processor = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "processor"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(state / "processor.log", 60)
        handoff = _measure_handoff(boot, topics, args)
        lateness = _measure_timers(boot, topics, args.waits)
    finally:
        processor.terminate()
        processor.wait(30)
        names = [
            t for t in admin_client(boot, 10).list_topics(timeout=10).topics if t.startswith(prefix)
        ]
        delete_topics(boot, names, 15.0)
    print(
        f"hand-off (result -> next task at a worker), {len(handoff)} samples: "
        f"p50 {percentile(handoff, 50):.1f} ms, p95 {percentile(handoff, 95):.1f} ms, "
        f"p99 {percentile(handoff, 99):.1f} ms, mean {statistics.mean(handoff):.1f} ms"
    )
    print(
        f"timer lateness (WAIT 1 s), {len(lateness)} samples: p50 {percentile(lateness, 50):.1f} ms, "
        f"p99 {percentile(lateness, 99):.1f} ms, max {max(lateness):.1f} ms"
    )


def _wait_ready(log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if b"recovered" in log_path.read_bytes():
            return
        time.sleep(0.2)
    sys.exit(f"the processor did not start within {timeout_s} s; see {log_path}")


def _measure_handoff(
    boot: KafkaAccess, topics: TopicNames, args: argparse.Namespace
) -> list[float]:
    definition = parse_workflow_def(
        {
            "name": "handoff",
            "version": 1,
            "tasks": [
                {"name": "step", "taskReferenceName": f"s{i}", "taskDefinition": {"name": "step"}}
                for i in range(args.tasks)
            ],
        }
    )
    producer = Producer(producer_config(boot))
    consumer = new_reader(
        boot,
        **{
            "group.id": f"{topics.prefix}-measure",
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 5,
        },
    )
    consumer.subscribe([topics.task("step")])
    reported_at: dict[str, float] = {}  # workflow id -> when its last result was produced
    samples: list[float] = []
    done = 0
    expected = args.workflows * args.tasks

    def starter() -> None:
        for _ in range(args.workflows):
            wid = str(uuid.uuid4())
            cmd = StartWorkflow(
                workflow_id=wid,
                at=now_ms(),
                actor="api:measure",
                name="handoff",
                definition=definition,
            )
            producer.produce(topics.commands, key=wid.encode(), value=wire.encode_command(cmd))
            producer.poll(0)
            time.sleep(1 / args.rate)

    threading.Thread(target=starter, daemon=True).start()
    deadline = time.monotonic() + 60 + args.workflows / args.rate
    while done < expected and time.monotonic() < deadline:
        for msg in take(consumer, 500, 0.05):
            if msg.error():
                continue
            arrived = time.perf_counter()
            d = wire.decode_dispatch(msg.value())
            wid = d.workflow_instance_id
            if wid in reported_at:
                samples.append((arrived - reported_at.pop(wid)) * 1000)
            for command in (
                TaskStarted(
                    workflow_id=wid,
                    root_workflow_id=d.root_workflow_id,
                    at=now_ms(),
                    actor="worker:measure",
                    task_id=d.task_id,
                ),
                ReportTaskResult(
                    workflow_id=wid,
                    root_workflow_id=d.root_workflow_id,
                    at=now_ms(),
                    actor="worker:measure",
                    task_id=d.task_id,
                    status=TaskStatus.COMPLETED,
                    output={"i": d.seq},
                ),
            ):
                producer.produce(
                    topics.commands,
                    key=d.root_workflow_id.encode(),
                    value=wire.encode_command(command),
                )
            reported_at[wid] = time.perf_counter()
            done += 1
        producer.poll(0)
    consumer.close()
    producer.flush(10)
    if done < expected:
        print(f"warning: only {done} of {expected} tasks ran before the deadline", file=sys.stderr)
    return samples


def _measure_timers(boot: KafkaAccess, topics: TopicNames, count: int) -> list[float]:
    definition = parse_workflow_def(
        {
            "name": "waits",
            "version": 1,
            "tasks": [
                {
                    "name": "pause",
                    "taskReferenceName": "pause",
                    "type": "WAIT",
                    "inputParameters": {"duration": "1 second"},
                }
            ],
        }
    )
    producer = Producer(producer_config(boot))
    due: dict[str, int] = {}
    for _ in range(count):
        wid = str(uuid.uuid4())
        at = now_ms()
        cmd = StartWorkflow(
            workflow_id=wid, at=at, actor="api:measure", name="waits", definition=definition
        )
        producer.produce(topics.commands, key=wid.encode(), value=wire.encode_command(cmd))
        due[wid] = at + 1000
        time.sleep(0.02)
    producer.flush(10)
    consumer = new_reader(
        boot,
        **{
            "group.id": f"{topics.prefix}-timers",
            "auto.offset.reset": "earliest",
        },
    )
    consumer.subscribe([topics.events])
    lateness: list[float] = []
    deadline = time.monotonic() + 60
    while len(lateness) < count and time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.2):
            if msg.error():
                continue
            e = wire.decode_event(msg.value())
            if isinstance(e, ev.TaskCompleted) and e.workflow_id in due and e.actor == "timer":
                lateness.append(e.at - due.pop(e.workflow_id))
    consumer.close()
    return lateness


if __name__ == "__main__":
    main()
