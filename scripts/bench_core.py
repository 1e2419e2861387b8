"""Micro-benchmark of the pure core: decide + evolve cost per event (µs).

For a FORK_JOIN of width 10 / 100 / 1,000 (one SIMPLE task per branch, then a JOIN) and a long
sequential workflow: start it, then report every task COMPLETED, timing decide + evolve of the
reports only. Flat µs/event across widths means the work per event does not grow with the size
of the workflow. Usage: .venv/bin/python scripts/bench_core.py
"""

from __future__ import annotations

import gc
import statistics
import time

from orchestrator.domain import commands as cmd
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context


def fork(width: int) -> WorkflowDef:
    branches = tuple((task(f"b{i}", name="work"),) for i in range(width))
    refs = tuple(f"b{i}" for i in range(width))
    return workflow(
        "fork", task("f", "FORK_JOIN", fork_tasks=branches), task("j", "JOIN", join_on=refs)
    )


def sequential(length: int) -> WorkflowDef:
    return workflow("seq", *(task(f"s{i}", name="work") for i in range(length)))


def apply(state: WorkflowState | None, decision: object) -> tuple[WorkflowState | None, int]:
    assert isinstance(decision, Accepted), decision
    for event in decision.events:
        state = evolve(state, event)
    return state, len(decision.events)


def bench(definition: WorkflowDef) -> list[float]:
    """µs per event of each report's decide + evolve, in report order."""
    gc.collect()
    ctx = dict_context([definition], [TaskDef(name="work")])
    start = cmd.StartWorkflow(workflow_id="wf", at=T0, actor="bench", name=definition.name)
    state, _ = apply(None, decide(None, start, ctx))
    costs: list[float] = []
    while state is not None and not state.is_terminal:
        open_tasks = [t for t in state.tasks.values() if t.dispatched and not t.status.is_terminal]
        for t in sorted(open_tasks, key=lambda t: t.seq):  # picking tasks is not timed
            report = cmd.ReportTaskResult(
                workflow_id="wf",
                at=T0 + 1,
                actor="bench",
                task_id=t.task_id,
                status=TaskStatus.COMPLETED,
                output={"i": t.seq},
            )
            began = time.perf_counter()
            state, n = apply(state, decide(state, report, ctx))
            costs.append((time.perf_counter() - began) * 1e6 / n)
    return costs


def main() -> None:
    cases = [
        ("fork width 10", fork(10)),
        ("fork width 100", fork(100)),
        ("fork width 1000", fork(1000)),
    ]
    cases += [("sequential 100", sequential(100)), ("sequential 1000", sequential(1000))]
    # Medians: the machine may be shared, and a median ignores the disturbed samples (GC
    # pauses, other processes). "first/last 10%" shows whether cost grows as the workflow does.
    print(f"{'workflow':<18}{'reports':>8}{'median µs/event':>17}{'first 10%':>11}{'last 10%':>10}")
    for name, definition in cases:
        costs = bench(definition)
        tenth = max(1, len(costs) // 10)
        print(
            f"{name:<18}{len(costs):>8}{statistics.median(costs):>17.1f}"
            f"{statistics.median(costs[:tenth]):>11.1f}{statistics.median(costs[-tenth:]):>10.1f}"
        )


if __name__ == "__main__":
    main()
