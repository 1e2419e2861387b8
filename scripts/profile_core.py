"""The processor's CPU per bench workflow, stage by stage, without Kafka (load-independent).

Runs N workflows of the bench workload (orchestrator/bench/workload.py: 13 steps, 7 worker
tasks, a sub-workflow) through exactly what the processor does per batch, with the real codec:
decode the command records, ``process_batch`` (decide/evolve/react), encode the events,
dispatches and emitted commands, pickle each touched state for the changelog. Workers answer at
once with a 1 KiB result per dispatch, and the commands a batch causes form the next batch, as
they would under load. By default a worker reports a fast task in one record (ReportTaskResult
with started_at, the SDK's default); ``--ack separate`` sends a TaskStarted ack first, as before. Prints microseconds per workflow for each stage and the
workflows/s one core would sustain for the processor's Python work alone. Stages are timed in
this thread's CPU time, so other processes on a shared machine do not inflate them.

    .venv/bin/python scripts/profile_core.py [--workflows 2000] [--batch 500] [--profile OUT]
                                             [--ack combined|separate] [--repeat N]

``--profile OUT`` also writes a cProfile of the run (``python -m pstats OUT``). ``--repeat N``
runs N times and reports the fastest run: on a busy machine even CPU time is inflated by the
neighbours (shared caches), and the minimum is the stablest figure.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import time
from collections import Counter, defaultdict
from typing import Any

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.bench.workload import (
    WORKFLOW,
    child_definition,
    random_output,
    task_definitions,
    workflow_definition,
    workflow_input,
)
from orchestrator.codec import wire
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions_json import parse_task_def, parse_workflow_def
from orchestrator.domain.statuses import TaskStatus
from orchestrator.engine.statecodec import encode_state
from orchestrator.engine.step import BatchOutput, process_batch
from orchestrator.testing.context import dict_context

T0 = 1_800_000_000_000


class Stages:
    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def time(self, stage: str, count: int, fn: Any, *args: Any) -> Any:
        started = time.thread_time()  # CPU time: other processes on the machine do not count
        result = fn(*args)
        self.seconds[stage] += time.thread_time() - started
        self.counts[stage] += count
        return result


def context() -> Any:
    workflows = [parse_workflow_def(d) for d in (child_definition(), workflow_definition())]
    tasks = [parse_task_def(d) for d in task_definitions()]
    return dict_context(workflows, tasks, DefaultScriptEvaluator(timeout_ms=1000))


def replies(out: BatchOutput, rng: random.Random, now: int, ack: str) -> list[cmd.Command]:
    """What the workers and the engine send back: a result per dispatch (with started_at), or
    an ack and then a result (`ack` "separate")."""
    nxt: list[cmd.Command] = list(out.commands)
    for d in out.dispatches:
        common: dict[str, Any] = {
            "workflow_id": d.workflow_instance_id,
            "root_workflow_id": d.root_workflow_id,
            "at": now,
            "actor": "worker:w1",
            "task_id": d.task_id,
            "worker_id": "w1",
        }
        output = random_output(1024, rng)
        if ack == "separate":
            nxt.append(cmd.TaskStarted(**common))
            nxt.append(cmd.ReportTaskResult(status=TaskStatus.COMPLETED, output=output, **common))
        else:
            nxt.append(cmd.ReportTaskResult(
                status=TaskStatus.COMPLETED, output=output, started_at=now, **common))  # fmt: skip
    return nxt


def run(workflows: int, batch: int, ack: str = "combined") -> tuple[Stages, int, int]:
    ctx = context()
    rng = random.Random(1)
    stages = Stages()
    states: dict[str, Any] = {}
    pending: list[cmd.Command] = [
        cmd.StartWorkflow(
            workflow_id=f"wf-{i}",
            at=T0,
            actor="api:bench",
            name=WORKFLOW,
            version=1,
            input=workflow_input(rng),
        )
        for i in range(workflows)
    ]
    events = 0
    commands = 0
    while pending:
        chunk, pending = pending[:batch], pending[batch:]
        records = [wire.encode_command(c) for c in chunk]  # made by the senders: not timed
        decoded = stages.time("decode commands", len(records), _decode, records)
        out = stages.time("process_batch (decide/evolve/react)", len(chunk), process_batch,
                          states, decoded, ctx)  # fmt: skip
        stages.time("encode events", len(out.events), _encode_events, out)
        stages.time("encode dispatches", len(out.dispatches), _encode_dispatches, out)
        stages.time("encode emitted commands", len(out.commands), _encode_commands, out)
        stages.time("pickle states (changelog)", len(out.states), _pickle, out)
        states.update(out.states)
        events += len(out.events)
        commands += len(chunk)
        pending.extend(replies(out, rng, T0 + 1, ack))
    done = sum(1 for s in states.values() if s.is_terminal and s.parent_workflow_id is None)
    if done != workflows:
        raise SystemExit(f"only {done} of {workflows} workflows completed")
    return stages, events, commands


def _decode(records: list[bytes]) -> list[tuple[cmd.Command, str | None]]:
    return [tuple(wire.decode_command_envelope(r)) for r in records]  # type: ignore[misc]


def _encode_events(out: BatchOutput) -> None:
    for event, command_id in out.events:
        wire.encode_event(event, correlation_id=command_id)


def _encode_dispatches(out: BatchOutput) -> None:
    for d in out.dispatches:
        wire.encode_dispatch(d)


def _encode_commands(out: BatchOutput) -> None:
    for c in out.commands:
        wire.encode_command(c)


def _pickle(out: BatchOutput) -> None:
    for state in out.states.values():
        encode_state(state)


def report(stages: Stages, workflows: int, events: int, commands: int) -> str:
    total = sum(stages.seconds.values())
    lines = [f"{workflows} workflows, {commands} commands, {events} events "
             f"({events / workflows:.1f} events and {commands / workflows:.1f} commands each)",
             f"{'stage':<40} {'µs/workflow':>12} {'µs/item':>9} {'share':>6}"]  # fmt: skip
    per: dict[str, float] = defaultdict(float)
    for stage, seconds in stages.seconds.most_common():
        per[stage] = seconds / workflows * 1e6
        item = seconds / max(1, stages.counts[stage]) * 1e6
        lines.append(f"{stage:<40} {per[stage]:>12.0f} {item:>9.1f} {seconds / total:>6.0%}")
    us = total / workflows * 1e6
    lines.append(f"{'total':<40} {us:>12.0f}   -> {1e6 / us:.0f} workflows/s per core "
                 f"({1e6 / us * 7:.0f} task executions/s), Python work only")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", help="write a cProfile of the run here")
    parser.add_argument("--ack", choices=("combined", "separate"), default="combined",
                        help="workers report in one record, or ack (TaskStarted) then report")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs; the fastest is reported")
    args = parser.parse_args()
    run(50, args.batch, args.ack)  # warm-up: imports, caches, the script engine
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    runs = [run(args.workflows, args.batch, args.ack) for _ in range(max(1, args.repeat))]
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    stages, events, commands = min(runs, key=lambda r: sum(r[0].seconds.values()))
    if len(runs) > 1:
        totals = sorted(sum(r[0].seconds.values()) / args.workflows * 1e6 for r in runs)
        print("totals (µs/workflow): " + ", ".join(f"{t:.0f}" for t in totals))
    print(report(stages, args.workflows, events, commands))


if __name__ == "__main__":
    main()
