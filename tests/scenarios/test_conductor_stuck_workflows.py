"""Issue #16, stuck workflows: what used to leave a workflow RUNNING forever, as Conductor OSS
3.32.3 does it instead (each checked against the real server, see the e2e twins in
tests/e2e/test_conductor_fidelity_*.py).

- A TERMINATE task's non-map `workflowOutput` is wrapped as `{"output": value}`.
- A command the engine fails on (a bug) fails its workflow with the reason (the processor's
  batch step, `engine.step.process_batch`, pure) instead of vanishing into the dead letters.
- A retry after a failure inside a fork reopens the JOIN (and a DO_WHILE) in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce
from typing import Any

import pytest

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.ports import ScriptError
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.engine.step import process_batch
from orchestrator.testing.builders import T0, Engine, task, workflow
from orchestrator.testing.context import dict_context
from orchestrator.testing.scripts import FakeScripts

DEFS = [TaskDef(name=n, retry_count=0) for n in ("t1", "a", "b", "c")]


def _task_list(e: Engine) -> list[tuple[str, str, int]]:
    """Conductor's task list: (ref, status, retryCount) in seq order."""
    assert e.state is not None
    tasks = sorted(e.state.tasks.values(), key=lambda t: t.seq)
    return [(t.ref, str(t.status), t.retry_count) for t in tasks]


def _replayed(e: Engine) -> WorkflowState | None:
    return reduce(evolve, e.history, None)


# --- TERMINATE with a workflowOutput that is not a map ---------------------------------------


@pytest.mark.parametrize(
    ("workflow_output", "expected"),
    [
        ("${t1.output.op}", {"output": "hello"}),
        ("${t1.output.lst}", {"output": [1, 2]}),
        ("${t1.output.num}", {"output": 3}),
        ("${t1.output.missing}", {}),
        ({"a": "${t1.output.op}"}, {"a": "hello"}),
    ],
)
def test_terminate_task_wraps_a_workflow_output_that_is_not_a_map(
    workflow_output: Any, expected: dict[str, Any]
) -> None:
    flow = workflow(
        "term",
        task("t1"),
        task(
            "term",
            "TERMINATE",
            input_parameters={"terminationStatus": "COMPLETED", "workflowOutput": workflow_output},
        ),
        output_parameters={"o": "${t1.output.op}"},
    )
    e = Engine.of([flow], DEFS)
    e.start("term")
    e.ack("t1")
    e.report("t1", output={"op": "hello", "lst": [1, 2], "num": 3})
    assert e.state is not None and e.state.status is WorkflowStatus.COMPLETED
    assert e.t("term").output == expected
    assert e.state.output == expected  # the TERMINATE task's output, not outputParameters
    assert _replayed(e) == e.state


def test_terminate_task_without_a_reason_gives_conductors_reason() -> None:
    flow = workflow(
        "term", task("term", "TERMINATE", input_parameters={"terminationStatus": "FAILED"})
    )
    e = Engine.of([flow], DEFS)
    e.start("term")
    assert e.state is not None and e.state.status is WorkflowStatus.FAILED
    assert e.state.reason == f"Workflow is FAILED by TERMINATE task: {e.t('term').task_id}"


# --- a command the engine fails on ------------------------------------------------------------


class CrashingScripts(FakeScripts):
    """An evaluator with a bug: it raises something that is not a ScriptError."""

    def evaluate_js(self, expression: str, bindings: Mapping[str, Any]) -> Any:
        raise RuntimeError("evaluator crashed")


CRASH = workflow(
    "crash",
    task("t1"),
    task("js", "INLINE", input_parameters={"evaluatorType": "javascript", "expression": "1"}),
    failure_workflow="on_failure",
)
ON_FAILURE = workflow("on_failure", task("c"))


def _batch(states: dict[str, WorkflowState], *commands: cmd.Command) -> Any:
    ctx = dict_context([CRASH, ON_FAILURE], DEFS, CrashingScripts())
    out = process_batch(states, [(c, f"cid-{i}") for i, c in enumerate(commands)], ctx)
    states.update(out.states)
    return out


def test_a_command_the_engine_fails_on_fails_its_workflow_with_the_reason() -> None:
    states: dict[str, WorkflowState] = {}
    _batch(states, cmd.StartWorkflow(workflow_id="wf", at=T0, actor="api:t", name="crash"))
    t1 = states["wf"].current("t1")
    assert t1 is not None
    done = cmd.ReportTaskResult(
        workflow_id="wf", at=T0 + 5, actor="worker:w", task_id=t1.task_id,
        status=TaskStatus.COMPLETED,
    )  # fmt: skip

    out = _batch(states, done)

    failed = states["wf"]
    assert failed.status is WorkflowStatus.FAILED
    assert failed.reason == ("engine error on ReportTaskResult: RuntimeError: evaluator crashed")
    assert [f.reason for f in out.failures] == [failed.reason]  # the raw command: dead letters
    assert failed.failure_workflow_id is not None  # a failure like any other
    assert [type(c).__name__ for c in out.commands] == ["StartWorkflow"]
    events = [e for e, _ in out.events]
    assert reduce(evolve, events, states_before_report(t1.task_id)) == failed


def states_before_report(task_id: str) -> WorkflowState:
    states: dict[str, WorkflowState] = {}
    _batch(states, cmd.StartWorkflow(workflow_id="wf", at=T0, actor="api:t", name="crash"))
    assert states["wf"].current("t1").task_id == task_id  # type: ignore[union-attr]
    return states["wf"]


def test_the_same_crash_after_a_retry_fails_the_workflow_again() -> None:
    states: dict[str, WorkflowState] = {}
    _batch(states, cmd.StartWorkflow(workflow_id="wf", at=T0, actor="api:t", name="crash"))
    _batch(states, _complete(states, "t1", T0 + 5))  # fails: t1 canceled, as any open task
    assert states["wf"].current("t1").status is TaskStatus.CANCELED  # type: ignore[union-attr]

    _batch(states, cmd.RetryWorkflow(workflow_id="wf", at=T0 + 9, actor="api:t"))
    assert states["wf"].status is WorkflowStatus.RUNNING
    out = _batch(states, _complete(states, "t1", T0 + 20))

    assert states["wf"].status is WorkflowStatus.FAILED
    assert len(out.failures) == 1


def _complete(states: dict[str, WorkflowState], ref: str, at: int) -> cmd.ReportTaskResult:
    task_id = states["wf"].current(ref).task_id  # type: ignore[union-attr]
    return cmd.ReportTaskResult(
        workflow_id="wf", at=at, actor="worker:w", task_id=task_id, status=TaskStatus.COMPLETED
    )


class FailThenCrash(FakeScripts):
    """A script error (the task fails: a rule), then a crash of the evaluator (a bug)."""

    calls = 0

    def evaluate_js(self, expression: str, bindings: Mapping[str, Any]) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ScriptError("TypeError: boom")
        raise RuntimeError("evaluator crashed")


def test_an_engine_error_on_an_ended_workflow_is_rejected_for_the_sender() -> None:
    flow = workflow(
        "js_only", task("js", "INLINE", input_parameters=CRASH.tasks[1].input_parameters)
    )
    ctx = dict_context([flow], DEFS, FailThenCrash())
    start = cmd.StartWorkflow(workflow_id="wf", at=T0, actor="api:t", name="js_only")
    failed = process_batch({}, [(start, None)], ctx).states["wf"]
    assert failed.status is WorkflowStatus.FAILED  # the script error: a rule, not a crash

    retry = cmd.RetryWorkflow(workflow_id="wf", at=T0 + 9, actor="api:t")
    out = process_batch({"wf": failed}, [(retry, "cid")], ctx)

    assert not out.states and not out.events  # nothing running to fail: unchanged
    assert [(r.code, r.reason) for _, r, _ in out.rejections] == [
        (
            RejectionCode.ENGINE_ERROR,
            "engine error on RetryWorkflow: RuntimeError: evaluator crashed",
        )
    ]
    assert len(out.failures) == 1


# --- retry after a failure inside a fork ------------------------------------------------------

FORK = workflow(
    "forkretry",
    task("fork", "FORK_JOIN", fork_tasks=((task("a"),), (task("b"),))),
    task("join", "JOIN", join_on=("a", "b")),
    task("c"),
)


def test_retry_after_a_failed_fork_branch_reopens_the_join_in_place() -> None:
    e = Engine.of([FORK], DEFS)
    e.start("forkretry")
    e.ack("a")
    e.report("a", TaskStatus.FAILED)
    join_id = e.t("join").task_id
    assert _task_list(e) == [
        ("fork", "COMPLETED", 0),
        ("a", "FAILED", 0),
        ("b", "CANCELED", 0),
        ("join", "CANCELED", 0),
    ]

    e.op(cmd.RetryWorkflow, at=T0 + 1000)

    assert e.state is not None and e.state.status is WorkflowStatus.RUNNING
    assert _task_list(e) == [  # as the real server: JOIN in place, new attempts appended
        ("fork", "COMPLETED", 0),
        ("a", "FAILED", 0),
        ("b", "CANCELED", 0),
        ("join", "IN_PROGRESS", 0),
        ("a", "SCHEDULED", 1),
        ("b", "SCHEDULED", 1),
    ]
    assert e.t("join").task_id == join_id
    for ref in ("a", "b"):
        e.ack(ref)
        e.report(ref, output={"r": ref})
    assert e.t("join").status is TaskStatus.COMPLETED
    assert e.t("join").output == {"a": {"r": "a"}, "b": {"r": "b"}}
    e.ack("c")
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED
    assert _replayed(e) == e.state


LOOP = workflow(
    "loopretry",
    task("loop", "DO_WHILE", loop_condition="$.loop['iteration'] < 2", loop_over=(task("a"),)),
    task("c"),
)
LOOP_JS = FakeScripts(js={"$.loop['iteration'] < 2": lambda b: b["loop"]["iteration"] < 2})


def test_retry_of_a_loop_that_failed_inside_reopens_the_do_while_in_place() -> None:
    e = Engine.of([LOOP], DEFS, scripts=LOOP_JS)
    e.start("loopretry")
    e.ack("a__1")
    e.report("a__1", output={"n": 1})
    e.ack("a__2")
    e.report("a__2", TaskStatus.FAILED)
    loop_id = e.t("loop").task_id
    assert e.t("loop").status is TaskStatus.CANCELED

    e.op(cmd.RetryWorkflow, at=T0 + 1000)

    assert _task_list(e) == [
        ("loop", "IN_PROGRESS", 0),
        ("a__1", "COMPLETED", 0),
        ("a__2", "FAILED", 0),
        ("a__2", "SCHEDULED", 1),
    ]
    assert e.t("loop").task_id == loop_id
    e.ack("a__2")
    e.report("a__2", output={"n": 2})
    assert e.t("loop").status is TaskStatus.COMPLETED
    assert e.t("loop").output == {"iteration": 2, "1": {"a": {"n": 1}}, "2": {"a": {"n": 2}}}
    assert e.t("c").status is TaskStatus.SCHEDULED
    assert _replayed(e) == e.state


def test_retry_of_a_loop_whose_condition_failed_evaluates_it_again() -> None:
    answers = iter([ValueError("flaky"), False])

    def condition(bindings: Mapping[str, Any]) -> Any:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    scripts = FakeScripts(js={"$.loop['iteration'] < 2": condition})
    e = Engine.of([LOOP], DEFS, scripts=scripts)
    e.start("loopretry")
    e.ack("a__1")
    e.report("a__1")
    assert e.t("loop").status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert e.state is not None and e.state.status is WorkflowStatus.FAILED

    e.op(cmd.RetryWorkflow, at=T0 + 1000)

    assert e.t("loop").status is TaskStatus.COMPLETED  # in place, condition false this time
    assert e.t("c").status is TaskStatus.SCHEDULED
    assert [t[0] for t in _task_list(e)] == ["loop", "a__1", "c"]
