"""Properties of the engine over generated definitions and generated input sequences:
determinism, live == replay (through serde), duplicates/stale inputs change nothing,
terminal workflows absorb worker reports and timers, gap-free seq numbers."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.domain import commands as cmd
from orchestrator.domain import serde
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Rejected
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.timers import task_deadlines, workflow_deadline
from orchestrator.testing.builders import T0
from orchestrator.testing.context import dict_context

TASK_DEFS = [
    TaskDef(name="w0", retry_count=0, response_timeout_seconds=30),
    TaskDef(name="w1", retry_count=2, retry_delay_seconds=5, response_timeout_seconds=60),
    TaskDef(
        name="w2",
        retry_count=1,
        retry_delay_seconds=0,
        timeout_seconds=100,
        response_timeout_seconds=50,
    ),
]

# --- definitions ---------------------------------------------------------------------------

Shape = Any
leaf = st.sampled_from(["w0", "w1", "w2", "NOOP", "SET_VARIABLE", "OPT"])
shapes = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(
            st.just("SWITCH"),
            st.lists(st.lists(inner, min_size=0, max_size=2), min_size=1, max_size=3),
        ),
        st.tuples(
            st.just("FORK"),
            st.lists(st.lists(inner, min_size=1, max_size=2), min_size=1, max_size=3),
        ),
    ),
    max_leaves=8,
)


def build(shapes_: list[Shape], counter: itertools.count) -> tuple[WorkflowTask, ...]:
    out: list[WorkflowTask] = []
    for shape in shapes_:
        ref = f"t{next(counter)}"
        if isinstance(shape, str):
            if shape in ("NOOP", "SET_VARIABLE"):
                out.append(
                    WorkflowTask(
                        name=ref, task_reference_name=ref, type=shape, input_parameters={"v": ref}
                    )
                )
            else:
                name = "w0" if shape == "OPT" else shape
                out.append(
                    WorkflowTask(name=name, task_reference_name=ref, optional=shape == "OPT")
                )
        elif shape[0] == "SWITCH":
            cases = {str(i): build(case, counter) for i, case in enumerate(shape[1])}
            out.append(
                WorkflowTask(
                    name="sw",
                    task_reference_name=ref,
                    type="SWITCH",
                    evaluator_type="value-param",
                    expression="c",
                    input_parameters={"c": "${workflow.input.c}"},
                    decision_cases=cases,
                )
            )
        else:
            branches = tuple(build(b, counter) for b in shape[1])
            out.append(
                WorkflowTask(
                    name="fork", task_reference_name=ref, type="FORK_JOIN", fork_tasks=branches
                )
            )
            join_on = tuple(b[-1].task_reference_name for b in branches)
            jref = f"t{next(counter)}"
            out.append(
                WorkflowTask(name="join", task_reference_name=jref, type="JOIN", join_on=join_on)
            )
    return tuple(out)


definitions = st.lists(shapes, min_size=1, max_size=4).map(
    lambda s: WorkflowDef(name="gen", tasks=build(s, itertools.count()), output_parameters=None)
)

# --- inputs --------------------------------------------------------------------------------

actions = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "report",
                "report",
                "report",
                "ack",
                "dup",
                "stale",
                "timer",
                "bad_timer",
                "pause",
                "resume",
                "terminate",
                "retry",
            ]
        ),
        st.integers(0, 50),
        st.sampled_from(
            [
                TaskStatus.COMPLETED,
                TaskStatus.COMPLETED,
                TaskStatus.FAILED,
                TaskStatus.FAILED_WITH_TERMINAL_ERROR,
                TaskStatus.IN_PROGRESS,
            ]
        ),
    ),
    max_size=40,
)


def make_command(
    state: WorkflowState, action: tuple[str, int, TaskStatus], now: int, last: list[cmd.Command]
) -> cmd.Command | None:
    kind, pick, status = action
    base: dict[str, Any] = {"workflow_id": "wf", "at": now, "actor": "test"}
    tasks = sorted(state.tasks.values(), key=lambda t: t.seq)
    open_tasks = [t for t in tasks if not t.status.is_terminal and t.dispatched]
    if kind == "report" and open_tasks:
        t = open_tasks[pick % len(open_tasks)]
        return cmd.ReportTaskResult(task_id=t.task_id, status=status, output={"o": pick}, **base)
    if kind == "ack" and open_tasks:
        return cmd.TaskStarted(task_id=open_tasks[pick % len(open_tasks)].task_id, **base)
    if kind == "dup" and last:
        return last[-1]
    if kind == "stale" and tasks:
        t = tasks[pick % len(tasks)]
        return cmd.ReportTaskResult(task_id=t.task_id, status=TaskStatus.COMPLETED, **base)
    if kind in ("timer", "bad_timer"):
        deadlines = [(k, due, t.task_id) for t in tasks for k, due in task_deadlines(state, t)]
        wf_due = workflow_deadline(state)
        if wf_due is not None:
            deadlines.append((cmd.TimerKind.WORKFLOW_TIMEOUT, wf_due, None))
        if not deadlines:
            return None
        k, due, tid = deadlines[pick % len(deadlines)]
        if kind == "bad_timer":
            due += 1
        return cmd.TimerFired(kind=k, due_at=due, task_id=tid, **{**base, "at": max(now, due)})
    simple = {
        "pause": cmd.PauseWorkflow,
        "resume": cmd.ResumeWorkflow,
        "terminate": cmd.TerminateWorkflow,
        "retry": cmd.RetryWorkflow,
    }
    if kind in simple:
        return simple[kind](**base)
    return None


def run(
    definition: WorkflowDef, inputs: list, case: int
) -> tuple[list, list[tuple[cmd.Command, Any, WorkflowState | None]]]:
    ctx = dict_context([definition], TASK_DEFS)
    now = T0
    start = cmd.StartWorkflow(
        workflow_id="wf", at=now, actor="api", name="gen", input={"c": str(case)}
    )
    decision = decide(None, start, ctx)
    assert isinstance(decision, Accepted)
    events = list(decision.events)
    state = None
    for e in events:
        state = evolve(state, e)
    trace: list[tuple[cmd.Command, Any, WorkflowState | None]] = []
    sent: list[cmd.Command] = [start]
    for action in inputs:
        now += 1000
        assert state is not None
        command = make_command(state, action, now, sent)
        if command is None:
            continue
        now = max(now, command.at)
        before = state
        decision = decide(state, command, ctx)
        trace.append((command, decision, before))
        sent.append(command)
        if isinstance(decision, Accepted):
            for e in decision.events:
                state = evolve(state, e)
            events.extend(decision.events)
    return events, trace


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(definitions, actions, st.integers(0, 3))
def test_replaying_the_same_inputs_gives_identical_events(definition, inputs, case):
    first, _ = run(definition, inputs, case)
    second, _ = run(definition, inputs, case)
    assert [serde.dumps(e) for e in first] == [serde.dumps(e) for e in second]


@SETTINGS
@given(definitions, actions, st.integers(0, 3))
def test_live_state_equals_fold_of_serialised_log_and_seq_is_gap_free(definition, inputs, case):
    events, _ = run(definition, inputs, case)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    live = None
    for e in events:
        live = evolve(live, e)
    replayed = None
    for e in events:
        replayed = evolve(replayed, serde.event_from_jsonable(serde.to_jsonable(e)))
    assert replayed == live


@SETTINGS
@given(definitions, actions, st.integers(0, 3))
def test_duplicate_or_stale_report_changes_nothing(definition, inputs, case):
    _, trace = run(definition, inputs, case)
    for command, decision, before in trace:
        if isinstance(command, cmd.ReportTaskResult) and before is not None:
            task = before.tasks.get(command.task_id)
            if task is not None and (task.status.is_terminal or task.retried):
                assert isinstance(decision, Rejected)


@SETTINGS
@given(definitions, actions, st.integers(0, 3))
def test_terminal_workflow_absorbs_worker_reports_and_timers(definition, inputs, case):
    _, trace = run(definition, inputs, case)
    for command, decision, before in trace:
        worker_or_timer = isinstance(
            command, cmd.ReportTaskResult | cmd.TaskStarted | cmd.TimerFired
        )
        if before is not None and before.is_terminal and worker_or_timer:
            assert isinstance(decision, Rejected)
