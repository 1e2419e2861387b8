"""Given/when/then: when a workflow completes and with which output (Conductor's
checkForWorkflowCompletion and updateWorkflowOutput), and ALERT_ONLY task timeouts."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import (
    TaskDef,
    TaskTimeoutPolicy,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.effects import ScheduleTimer
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import T0, Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

DEFS = [TaskDef(name=n, retry_count=0) for n in ("a", "long1", "long2", "c", "x", "y")]


def test_a_branch_no_join_waits_for_holds_the_workflow_open_until_it_ends():
    wf = workflow(
        "w",
        task("f", "FORK_JOIN", fork_tasks=((task("a"),), (task("long1"), task("long2")))),
        task("j", "JOIN", join_on=("a",)),
        task("c"),
    )
    e = Engine.of([wf], DEFS)
    e.start("w")
    e.report("a")
    e.report("c", output={"c": 1})
    assert e.state.status is WorkflowStatus.RUNNING  # long1 is still running
    e.report("long1")
    e.report("long2", output={"long": 2})
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.state.output == {"long": 2}  # the last task in the workflow's task list


def test_output_is_the_last_task_of_the_list_not_the_switch_that_ended_it():
    wf = workflow(
        "w",
        task(
            "s",
            "SWITCH",
            evaluator_type="value-param",
            expression="v",
            input_parameters={"v": "go"},
            decision_cases={"go": (task("x"),)},
        ),
    )
    e = Engine.of([wf], DEFS)
    e.start("w")
    e.report("x", output={"x": 1})
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.state.output == {"x": 1}


def test_output_of_a_workflow_ending_with_a_loop_is_its_last_body_task():
    loop = task(
        "loop",
        "DO_WHILE",
        loop_condition="$.loop['iteration'] < 2",
        loop_over=(task("x"), task("y")),
    )
    e = Engine.of(
        [workflow("w", loop)],
        DEFS,
        scripts=FakeScripts(js={"$.loop['iteration'] < 2": lambda b: b["loop"]["iteration"] < 2}),
    )
    e.start("w")
    for n in (1, 2):
        e.report(f"x__{n}")
        e.report(f"y__{n}", output={"y": n})
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.state.output == {"y": 2}


def test_output_of_a_fork_and_join_ending_a_workflow_is_the_joins():
    wf = workflow(
        "w",
        task("f", "FORK_JOIN", fork_tasks=((task("a"),), (task("x"),))),
        task("j", "JOIN", join_on=("a", "x")),
    )
    e = Engine.of([wf], DEFS)
    e.start("w")
    e.report("x", output={"x": 1})
    e.report("a", output={"a": 1})
    assert e.state.output == {"a": {"a": 1}, "x": {"x": 1}}


def test_terminated_by_the_api_the_output_is_the_last_tasks():
    e = Engine.of([workflow("w", task("a"), task("c"))], DEFS)
    e.start("w")
    e.report("a", output={"a": 1})
    e.op(cmd.TerminateWorkflow, reason="stop")
    assert e.state.output == {}  # c, the last task, was canceled with no output
    e2 = Engine.of([workflow("w", task("a"), task("c"))], DEFS)
    e2.start("w")
    e2.report("a", output={"a": 1})
    e2.ack("c")
    e2.report("c", TaskStatus.IN_PROGRESS, output={"partial": 1})
    e2.op(cmd.TerminateWorkflow, reason="stop")
    assert e2.state.output == {"partial": 1}


def test_an_alert_only_task_timeout_never_blocks_the_workflow_timeout():
    slow = TaskDef(
        name="a",
        retry_count=0,
        timeout_seconds=5,
        response_timeout_seconds=3600,
        timeout_policy=TaskTimeoutPolicy.ALERT_ONLY,
    )
    wf = workflow(
        "w", task("a"), timeout_seconds=60, timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF
    )
    e = Engine.of([wf], [slow])
    e.start("w")
    e.ack("a", at=T0 + 1)
    kinds = {f.kind for f in e.effects if isinstance(f, ScheduleTimer)}
    assert cmd.TimerKind.TASK_TIMEOUT not in kinds  # Conductor only logs ALERT_ONLY
    assert cmd.TimerKind.WORKFLOW_TIMEOUT in kinds
    e.fire(cmd.TimerKind.WORKFLOW_TIMEOUT, None, T0 + 60_000)
    assert e.state.status is WorkflowStatus.TIMED_OUT
    assert e.t("a").status is TaskStatus.CANCELED
