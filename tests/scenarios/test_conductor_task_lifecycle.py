"""Issue #16, lifecycle and timing of tasks, as Conductor OSS 3.32.3 (checked against the real
server; the e2e twins are in tests/e2e/test_conductor_fidelity_lifecycle.py):

- SWITCH / DECISION complete as soon as their case is chosen.
- A worker's IN_PROGRESS puts its task back to SCHEDULED, handed out again after
  `callbackAfterSeconds`; no response timeout runs meanwhile; `extendLease` keeps it
  IN_PROGRESS and restarts the response timeout.
- A task waiting out its start or retry delay shows the delay as `callbackAfterSeconds`; a
  DO_WHILE's `iteration` is the iteration it runs.
"""

from __future__ import annotations

from functools import reduce

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import DispatchTask, ScheduleTimer
from orchestrator.domain.evolve import evolve
from orchestrator.domain.inputs import conductor_callback, conductor_iteration, task_doc
from orchestrator.domain.react import dispatch as react_dispatch
from orchestrator.domain.retry import jitter_ms
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, Reply
from orchestrator.testing.builders import T0, Engine, task, workflow
from orchestrator.testing.context import dict_context
from orchestrator.testing.scripts import FakeScripts

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


# --- IN_PROGRESS with callbackAfterSeconds ------------------------------------------------------

ONE = workflow("cb", task("a"))
A_DEF = TaskDef(name="a", retry_count=1, retry_delay_seconds=0, response_timeout_seconds=3)


def test_in_progress_with_a_callback_puts_the_task_back_to_scheduled_until_the_callback() -> None:
    e = Engine.of([ONE], [A_DEF])
    e.start("cb")
    e.ack("a", at=T0 + 10)
    e.effects.clear()

    e.report("a", TaskStatus.IN_PROGRESS, {"p": 1}, at=T0 + 20, callback_after_seconds=2)

    assert e.events_of() == ["TaskPostponed"]
    a = e.t("a")
    assert (a.status, a.callback_after_seconds, a.poll_count, a.output) == (
        TaskStatus.SCHEDULED, 2, 1, {"p": 1}
    )  # fmt: skip
    assert _dispatches(e, "a") == 0  # not pollable before the callback
    assert _timers(e, "a") == {(TimerKind.CALLBACK, T0 + 2020)}  # and no response timeout

    e.effects.clear()
    e.fire(TimerKind.CALLBACK, "a", T0 + 2020)
    assert e.events_of() == ["TaskQueued"]
    assert _dispatches(e, "a") == 1

    e.effects.clear()
    e.ack("a", at=T0 + 2500)  # polled again: IN_PROGRESS, the response timeout starts anew
    a = e.t("a")
    assert (a.status, a.poll_count, a.callback_after_seconds) == (TaskStatus.IN_PROGRESS, 2, 0)
    assert _timers(e, "a") == {(TimerKind.RESPONSE_TIMEOUT, T0 + 5500)}
    e.report("a", output={"done": True}, at=T0 + 3000)
    assert e.state is not None and e.state.status is WorkflowStatus.COMPLETED
    assert reduce(evolve, e.history, None) == e.state


def test_in_progress_without_a_callback_hands_the_task_out_again_at_once() -> None:
    e = Engine.of([ONE], [A_DEF])
    e.start("cb")
    e.ack("a")
    e.effects.clear()
    e.report("a", TaskStatus.IN_PROGRESS, {"p": 1})
    assert e.t("a").status is TaskStatus.SCHEDULED
    assert _dispatches(e, "a") == 1
    assert e.ack("a").__class__.__name__ == "Accepted"


def test_extend_lease_keeps_the_task_in_progress_and_restarts_its_response_timeout() -> None:
    e = Engine.of([ONE], [A_DEF])
    e.start("cb")
    e.ack("a", at=T0 + 10)
    e.effects.clear()
    e.report("a", TaskStatus.IN_PROGRESS, at=T0 + 2000, extend_lease=True)
    assert e.events_of() == ["TaskProgressed"]
    assert e.t("a").status is TaskStatus.IN_PROGRESS
    assert _timers(e, "a") == {(TimerKind.RESPONSE_TIMEOUT, T0 + 5000)}
    assert _dispatches(e, "a") == 0


def test_a_worker_that_checks_back_later_is_never_timed_out_while_it_waits() -> None:
    """responseTimeoutSeconds 3 < callbackAfterSeconds 10: Conductor keeps the task SCHEDULED
    (no response timeout) until it is polled again; it used to time out here."""
    replies = iter(
        [Reply(TaskStatus.IN_PROGRESS, {"step": 1}, callback_after_seconds=10), Reply(output={})]
    )
    rt = InMemoryRuntime(dict_context([ONE], [A_DEF]), workers={"a": lambda d: next(replies)})
    rt.submit(cmd.StartWorkflow(workflow_id="wf", at=rt.clock.now, actor="api:t", name="cb"))
    rt.advance(9_000)
    assert rt.state("wf").current("a").status is TaskStatus.SCHEDULED  # type: ignore[union-attr]
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    assert [str(t.status) for t in state.tasks.values()] == ["COMPLETED"]  # one attempt
    assert len([d for d in rt.dispatched if d.task_id == state.current("a").task_id]) == 2  # type: ignore[union-attr]


def test_a_report_of_in_progress_for_a_system_task_keeps_it_in_progress() -> None:
    flow = workflow("h", task("h", "HUMAN"))
    e = Engine.of([flow], [])
    e.start("h")
    e.report("h", TaskStatus.IN_PROGRESS, {"seen": True})
    assert e.events_of() == ["TaskProgressed"]
    assert e.t("h").status is TaskStatus.IN_PROGRESS


# --- what a task shows: callbackAfterSeconds, iteration ------------------------------------------


def test_a_task_waiting_out_its_retry_delay_shows_the_delay_as_callback_after_seconds() -> None:
    flow = workflow("rd", task("a"))
    e = Engine.of([flow], [TaskDef(name="a", retry_count=2, retry_delay_seconds=3)])
    e.start("rd")
    e.ack("a")
    e.report("a", TaskStatus.FAILED)
    retried = e.t("a")
    assert (retried.status, retried.retry_count) == (TaskStatus.SCHEDULED, 1)
    assert conductor_callback(retried) == 3  # the real server: callbackAfterSeconds 3
    assert task_doc(retried)["callbackAfterSeconds"] == 3
    e.fire(TimerKind.TASK_DELAY, "a", retried.available_at)
    e.ack("a", at=retried.available_at + 10)
    assert conductor_callback(e.t("a")) == 0  # polled: reset, as Conductor's poll does


def test_a_retry_delay_with_jitter_shows_the_delay_without_the_jitter() -> None:
    """RetryPolicySpec: callbackAfterSeconds is the backoff delay (60); the jitter (here part of
    the delay the task really waits) is Conductor's internal callbackAfterMs only."""
    flow = workflow("jit", task("a"))
    td = TaskDef(name="a", retry_count=3, retry_delay_seconds=60, backoff_jitter_ms=5000)
    e = Engine.of([flow], [td])
    e.start("jit")
    e.ack("a")
    e.report("a", TaskStatus.FAILED)
    retried = e.t("a")
    jitter = jitter_ms(td, retried.retried_task_id or "")
    assert retried.start_delay_ms == 60_000 + jitter and jitter > 0
    assert conductor_callback(retried) == 60
    dispatch = react_dispatch(e.state, retried)  # type: ignore[arg-type]
    assert dispatch.start_delay_in_seconds == 60


def test_the_do_while_task_counts_its_iterations_in_its_iteration_field() -> None:
    condition = "$.loop['iteration'] < 3"
    flow = workflow(
        "it",
        task("loop", "DO_WHILE", loop_condition=condition, loop_over=(task("a"),)),
        task("b", input_parameters={"n": "${loop['iteration']}", "o": "${loop.output.iteration}"}),
    )
    js = FakeScripts(js={condition: lambda b: b["loop"]["iteration"] < 3})
    e = Engine.of([flow], DEFS, scripts=js)
    e.start("it")
    for n in (1, 2, 3):
        assert conductor_iteration(e.t("loop")) == n
        e.ack(f"a__{n}")
        e.report(f"a__{n}")
    assert e.t("loop").iteration == 0  # the state's loop nesting is unchanged
    assert e.t("b").input == {"n": 3, "o": 3}


def test_a_loop_in_a_fork_begins_after_the_other_branches_and_the_join_are_scheduled() -> None:
    """DoWhileSpec "do while as subtask of a forkjoin": Conductor's task list is FORK, DO_WHILE,
    the other branch's task, JOIN, then the loop's first task (its DoWhile runs after)."""
    condition = "$.loop['iteration'] < 1"
    loop = task("loop", "DO_WHILE", loop_condition=condition, loop_over=(task("a"),))
    flow = workflow(
        "fork_loop",
        task("fork", "FORK_JOIN", fork_tasks=((loop,), (task("b"),))),
        task("join", "JOIN", join_on=("loop", "b")),
    )
    js = FakeScripts(js={condition: lambda b: b["loop"]["iteration"] < 1})
    e = Engine.of([flow], DEFS, scripts=js)
    e.start("fork_loop")
    assert e.state is not None
    order = [t.ref for t in sorted(e.state.tasks.values(), key=lambda t: t.seq)]
    assert order == ["fork", "loop", "b", "join", "a__1"]
    for ref in ("a__1", "b"):
        e.ack(ref)
        e.report(ref)
    assert e.state.status is WorkflowStatus.COMPLETED
