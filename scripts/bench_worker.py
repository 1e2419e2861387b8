"""The worker SDK's CPU per task: a WorkerGroup of instantaneous tasks fed DispatchTask records.

    . .stack/env && .venv/bin/python scripts/bench_worker.py [--tasks 20000] [--rate 1050]

This process runs only the WorkerGroup (its CPU is measured, after a warm-up); a child (this
script with --feed) produces the dispatches, ``--step`` records per send at ``--rate``/s
(``--rate 0``: all at once) and counts the results. Prints CPU µs and context switches per
task (Python and librdkafka threads apart, from /proc). The run's topics are deleted after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from typing import Any

TYPES = ["fetch", "validate", "transform", "score", "store", "notify", "extra"]
WARMUP = 20  # per type, before the measurement starts


def dispatch(task_type: str, n: int) -> Any:
    from orchestrator.domain.effects import DispatchTask

    wf = str(uuid.uuid4())  # each task its own workflow: results spread over the partitions
    return DispatchTask(
        task_id=str(uuid.uuid4()), task_type=task_type, reference_task_name=f"{task_type}_ref",
        task_def_name=task_type, input_data={"n": n, "customer": "c-1234", "amount": 12.5},
        workflow_instance_id=wf, root_workflow_id=wf, workflow_type="wbench", workflow_version=1,
        correlation_id=None, retry_count=0, poll_count=0, seq=1, scheduled_time=int(time.time() * 1000),
        start_delay_in_seconds=0, response_timeout_seconds=30, callback_after_seconds=0, domain=None,
        workflow_priority=0, iteration=0, retried_task_id=None, timeout_seconds=60, rate_limit_per_frequency=0,
        rate_limit_frequency_in_seconds=1, concurrent_exec_limit=None)  # fmt: skip


def feed(args: argparse.Namespace) -> None:
    from confluent_kafka import Producer

    from orchestrator.codec import wire
    from orchestrator.domain.commands import ReportTaskResult
    from orchestrator.kafka.clients import new_reader, producer_config
    from orchestrator.kafka.topics import TopicNames
    from orchestrator.settings import load_settings

    s = load_settings()
    names = TopicNames.from_settings(s)
    types = TYPES[: args.types]
    producer = Producer(producer_config(s, extra={"queue.buffering.max.messages": 10**7}))  # fmt: skip
    consumer = new_reader(s, **{"group.id": f"{s.topic_prefix}-count", "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([names.commands])
    seen: set[str] = set()

    def send(batch: list[tuple[str, bytes]]) -> None:
        for topic, value in batch:
            producer.produce(topic, value=value)
        producer.poll(0)

    def wait_for(total: int) -> None:
        while len(seen) < total:
            for m in consumer.consume(500, 0.2):
                c = wire.decode_command(m.value()) if m.error() is None else None
                if isinstance(c, ReportTaskResult):
                    seen.add(c.task_id)

    records = lambda count: [(names.task(t), wire.encode_dispatch(dispatch(t, i)))  # noqa: E731
                             for i in range(count) for t in types]  # fmt: skip
    send(records(WARMUP))
    wait_for(WARMUP * len(types))
    load = records(args.tasks // len(types))
    print("GO", flush=True)
    t0 = time.monotonic()
    step = args.step if args.rate > 0 else len(load)
    for i in range(0, len(load), step):
        while (now := time.monotonic()) < (due := t0 + i / args.rate if args.rate > 0 else 0):
            producer.poll(due - now)
        send(load[i : i + step])
    producer.flush(30)
    wait_for(WARMUP * len(types) + len(load))
    print(f"DONE {len(load)}", flush=True)
    consumer.close()


def threads() -> tuple[float, float, int]:
    """(Python threads' CPU s, librdkafka threads' CPU s, context switches): this process."""
    tick, py, rdk, switches = os.sysconf("SC_CLK_TCK"), 0.0, 0.0, 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                raw = f.read()
            with open(f"/proc/self/task/{tid}/status") as f:
                switches += sum(int(ln.split()[1]) for ln in f if "ctxt_switches" in ln)
        except FileNotFoundError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if raw[raw.index("(") + 1 :].startswith("rdk:"):
            rdk += used
        else:
            py += used
    return py, rdk, switches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=20000)
    p.add_argument("--types", type=int, default=7, choices=range(1, len(TYPES) + 1))
    p.add_argument("--rate", type=float, default=1050.0, help="dispatches/s; 0: all at once")
    p.add_argument("--step", type=int, default=7, help="records per send at --rate")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--payload", type=int, default=1024, help="bytes of each task's output")
    p.add_argument("--feed", action="store_true", help=argparse.SUPPRESS)
    if (args := p.parse_args()).feed:
        return feed(args)
    prefix = os.environ.setdefault("ORCHESTRATOR_TOPIC_PREFIX", f"wbench-{uuid.uuid4().hex[:8]}")
    from orchestrator.bench.setup import delete_run_topics
    from orchestrator.bench.workload import random_output
    from orchestrator.settings import load_settings
    from orchestrator.worker import worker_task
    from orchestrator.worker.group import WorkerGroup

    def make(name: str) -> Any:
        def work(_input: dict[str, Any]) -> dict[str, Any]:
            return random_output(args.payload)

        return worker_task(name, concurrency=args.concurrency, poll_batch=500)(work)

    settings = load_settings()
    group = WorkerGroup([make(t) for t in TYPES[: args.types]], settings, secrets=lambda _n: None)
    group.start()
    child = subprocess.Popen([sys.executable, __file__, "--feed", *sys.argv[1:]], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "GO"
        c0, (p0, r0, s0), t0 = time.process_time(), threads(), time.monotonic()
        n = int(child.stdout.readline().split()[1])
        c1, (p1, r1, s1), t1 = time.process_time(), threads(), time.monotonic()
        print(f"tasks={n} tasks/s={n / (t1 - t0):.0f} cpu_us_per_task={1e6 * (c1 - c0) / n:.1f} "
              f"(python threads {1e6 * (p1 - p0) / n:.1f}, librdkafka {1e6 * (r1 - r0) / n:.1f}) "
              f"cores={(c1 - c0) / (t1 - t0):.3f} ctxsw_per_task={(s1 - s0) / n:.2f}")  # fmt: skip
    finally:
        child.wait(10)
        group.stop(15)
        delete_run_topics(settings, prefix)


if __name__ == "__main__":
    main()
