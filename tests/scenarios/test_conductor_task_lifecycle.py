"""Issue #16, lifecycle and timing of tasks, as Conductor OSS 3.32.3 (checked against the real
server; the e2e twins are in tests/e2e/test_conductor_fidelity_lifecycle.py):

- SWITCH / DECISION complete as soon as their case is chosen.
"""

from __future__ import annotations

from functools import reduce

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import DispatchTask, ScheduleTimer
from orchestrator.domain.evolve import evolve
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow

TimerKind = cmd.TimerKind


def _timers(e: Engine, ref: str) -> set[tuple[TimerKind, int]]:
    """The deadlines react asked for after the last command, for `ref`'s current attempt."""
    task_id = e.t(ref).task_id
    return {
        (t.kind, t.due_at)
        for t in e.effects
        if isinstance(t, ScheduleTimer) and t.task_id == task_id
    }


def _dispatches(e: Engine, ref: str) -> int:
    task_id = e.t(ref).task_id
    return sum(1 for d in e.effects if isinstance(d, DispatchTask) and d.task_id == task_id)


# --- SWITCH and DECISION ----------------------------------------------------------------------


SWITCH = workflow(
    "sw",
    task(
        "sw",
        "SWITCH",
        evaluator_type="value-param",
        expression="k",
        input_parameters={"k": "${workflow.input.k}"},
        decision_cases={"a": (task("t1"),)},
        default_case=(task("t2"),),
    ),
    task("t3"),
)
DEFS = [TaskDef(name=n, retry_count=0) for n in ("t1", "t2", "t3", "a", "b", "c")]


def test_switch_completes_when_its_case_is_chosen_and_the_flow_goes_on_after_the_case() -> None:
    e = Engine.of([SWITCH], DEFS)
    e.start("sw", {"k": "a"})
    assert [
        (t.ref, str(t.status)) for t in sorted(e.state.tasks.values(), key=lambda t: t.seq)
    ] == [  # type: ignore[union-attr]
        ("sw", "COMPLETED"),
        ("t1", "SCHEDULED"),
    ]
    assert e.t("sw").output == {"evaluationResult": ["a"], "selectedCase": "a"}
    assert e.t("sw").input == {"k": "a", "case": "a", "hasChildren": "true"}
    e.ack("t1")
    e.report("t1", output={"x": 1})
    assert e.t("t3").status is TaskStatus.SCHEDULED
    e.ack("t3")
    e.report("t3")
    assert e.state is not None and e.state.status is WorkflowStatus.COMPLETED
    assert reduce(evolve, e.history, None) == e.state


def test_a_join_on_a_switch_completes_with_the_switch_as_in_conductor() -> None:
    flow = workflow(
        "joinsw",
        task(
            "fork",
            "FORK_JOIN",
            fork_tasks=(
                (
                    task(
                        "sw",
                        "SWITCH",
                        evaluator_type="value-param",
                        expression="k",
                        input_parameters={"k": "a"},
                        decision_cases={"a": (task("a"),)},
                    ),
                ),
                (task("b"),),
            ),
        ),
        task("join", "JOIN", join_on=("sw", "b")),
        task("c"),
    )
    e = Engine.of([flow], DEFS)
    e.start("joinsw")
    e.ack("b")
    e.report("b")
    # The real server: JOIN COMPLETED and c SCHEDULED while the switch's case task still runs.
    assert e.t("join").status is TaskStatus.COMPLETED
    assert e.t("c").status is TaskStatus.SCHEDULED
    assert e.t("a").status is TaskStatus.SCHEDULED
    for ref in ("a", "c"):
        e.ack(ref)
        e.report(ref)
    assert e.state is not None and e.state.status is WorkflowStatus.COMPLETED
