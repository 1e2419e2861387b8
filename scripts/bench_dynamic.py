#!/usr/bin/env python3
"""Per-event cost of FORK_JOIN_DYNAMIC and DO_WHILE in the pure core (no Kafka, no codec).

    .venv/bin/python scripts/bench_dynamic.py            # all figures
    .venv/bin/python scripts/bench_dynamic.py --quick    # smaller sizes (smoke)

Drives decide -> evolve -> react directly, one command at a time, answering every dispatched
task at once (no worker ack). Reports mean microseconds per event and per command, the median
of the first and last tenth of the run ("flat" = the last tenth costs what the first does), and
`calls`: the Python function calls of one command in the middle of the run, a measure of work
that does not depend on the machine's load.

- dynamic fork of width W: the fork decision (O(W) once: W TaskScheduled), then W branch
  completions, each one O(1) (a JOIN counter step), timed per completion;
- DO_WHILE of N iterations of one SIMPLE task, with keepLastN (state bounded) and without
  (Conductor's output keeps every iteration), with a table-driven condition (engine cost only)
  and, if QuickJS is available, with the real JavaScript evaluator (~0.01-0.04 ms per
  evaluation).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.domain import commands as cmd
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions import WorkflowDef, WorkflowTask
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted
from orchestrator.domain.ports import ScriptEvaluator
from orchestrator.domain.react import react
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.testing.context import dict_context
from orchestrator.testing.scripts import FakeScripts

T0 = 1_700_000_000_000
WID = "bench-1"


class Driver:
    """One workflow, decided command by command; dispatched tasks are answered at once."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state: WorkflowState | None = None
        self.pending: list[DispatchTask] = []
        self.events = 0

    def send(self, command: cmd.Command) -> int:
        decision = decide(self.state, command, self.ctx)
        assert isinstance(decision, Accepted), decision
        for event in decision.events:
            self.state = evolve(self.state, event)
            for effect in react(self.state, event):
                if isinstance(effect, DispatchTask):
                    self.pending.append(effect)
        self.events += len(decision.events)
        return len(decision.events)

    def start(self, definition: WorkflowDef) -> None:
        self.send(
            cmd.StartWorkflow(
                workflow_id=WID,
                at=T0,
                actor="api:bench",
                definition=definition,
                name=definition.name,
            )
        )

    def complete(self, task: DispatchTask, output: Any) -> int:
        return self.send(
            cmd.ReportTaskResult(
                workflow_id=WID,
                at=T0 + 1,
                actor="worker:bench",
                task_id=task.task_id,
                status=TaskStatus.COMPLETED,
                output=output,
            )
        )


def _task(ref: str, type: str = "SIMPLE", **kw: Any) -> WorkflowTask:
    return WorkflowTask(name=kw.pop("name", ref), task_reference_name=ref, type=type, **kw)


def _calls(fn: Any) -> int:
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def _slices(times: list[float]) -> dict[str, float]:
    tenth = max(1, len(times) // 10)
    return {
        "first10%_p50_us": statistics.median(times[:tenth]) * 1e6,
        "last10%_p50_us": statistics.median(times[-tenth:]) * 1e6,
    }


def bench_fork(width: int) -> dict[str, float]:
    definition = WorkflowDef(
        name="fanout",
        tasks=(
            _task(
                "fork",
                "FORK_JOIN_DYNAMIC",
                input_parameters={"forkTaskName": "work", "forkTaskInputs": list(range(width))},
            ),
            _task("join", "JOIN"),
        ),
    )
    d = Driver(dict_context([definition]))
    gc.collect()
    t0 = time.perf_counter()
    d.start(definition)
    start_s = time.perf_counter() - t0
    branches, d.pending = d.pending, []
    times: list[float] = []
    events = 0
    calls = 0
    for i, task in enumerate(branches):
        if i == width // 2:
            calls = _calls(lambda t=task: d.complete(t, {"i": t.input_data}))
            events += 1
            continue
        t = time.perf_counter()
        events += d.complete(task, {"i": task.input_data})
        times.append(time.perf_counter() - t)
    assert d.state is not None and str(d.state.status) == "COMPLETED"
    return {
        "start_ms": start_s * 1000,
        "start_events": d.events - events,
        "us_per_completion": sum(times) / len(times) * 1e6,
        **_slices(times),
        "calls": calls,
    }


def _loop_def(n: int, keep: int | None) -> WorkflowDef:
    params: dict[str, Any] = {} if keep is None else {"keepLastN": keep}
    return WorkflowDef(
        name="loop",
        tasks=(
            _task(
                "loop",
                "DO_WHILE",
                input_parameters=params,
                loop_condition=f"$.loop['iteration'] < {n}",
                loop_over=(_task("work"),),
            ),
        ),
    )


def bench_loop(n: int, keep: int | None, scripts: ScriptEvaluator) -> dict[str, float]:
    definition = _loop_def(n, keep)
    d = Driver(dict_context([definition], scripts=scripts))
    d.start(definition)
    gc.collect()
    times: list[float] = []
    events = 0
    calls: dict[int, int] = {}
    while d.pending:
        task = d.pending.pop()
        if task.iteration in (10, n - 10):
            calls[task.iteration] = _calls(lambda t=task: d.complete(t, {"n": t.iteration}))
            continue
        t = time.perf_counter()
        events += d.complete(task, {"n": task.iteration})
        times.append(time.perf_counter() - t)
    assert d.state is not None
    assert str(d.state.status) == "COMPLETED", d.state.reason
    return {
        "us_per_iteration": sum(times) / len(times) * 1e6,
        "us_per_event": sum(times) / events * 1e6,
        **_slices(times),
        "calls_it10": calls[10],
        f"calls_it{n - 10}": calls[n - 10],
        "tasks_in_state": len(d.state.tasks),
    }


def _fake_condition(n: int) -> FakeScripts:
    fn: Callable[[Mapping[str, Any]], Any] = lambda b: b["loop"]["iteration"] < n  # noqa: E731
    return FakeScripts(js={f"$.loop['iteration'] < {n}": fn})


def _row(label: str, figures: dict[str, float]) -> None:
    cells = "  ".join(f"{k}={v:,.1f}" for k, v in figures.items())
    print(f"{label:<44} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    widths = (10, 100) if args.quick else (10, 100, 1000)
    n = 1000 if args.quick else 10_000
    for width in widths:
        _row(f"FORK_JOIN_DYNAMIC width {width}", bench_fork(width))
    _row(f"DO_WHILE {n} iterations, keepLastN=2, fake JS", bench_loop(n, 2, _fake_condition(n)))
    _row(f"DO_WHILE {n} iterations, no keepLastN, fake JS", bench_loop(n, None, _fake_condition(n)))
    try:
        from orchestrator.adapters.scripting import DefaultScriptEvaluator
    except ImportError:  # quickjs-ng not installed: engine figures only
        return
    m = min(n, 2000)
    _row(
        f"DO_WHILE {m} iterations, keepLastN=2, QuickJS", bench_loop(m, 2, DefaultScriptEvaluator())
    )


if __name__ == "__main__":
    main()
