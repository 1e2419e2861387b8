"""Given/when/then: rerun from any task (fork branch, loop iteration, switch case, dynamic fork
branch, sub-workflow parent side), as Conductor's rerunWF, as a new generation."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import SubWorkflowParams, TaskDef
from orchestrator.domain.effects import EmitCommand
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

DEFS = [TaskDef(name=n, retry_count=0) for n in ("a1", "a2", "b1", "b2", "c", "x", "y", "s1", "s2")]
FORK = workflow(
    "fork",
    task("f", "FORK_JOIN", fork_tasks=((task("a1"), task("a2")), (task("b1"), task("b2")))),
    task("j", "JOIN", join_on=("a2", "b2")),
    task("c"),
)


def _rerun(e: Engine, ref: str, **kw: object) -> list[str]:
    e.op(cmd.RerunWorkflow, from_task_id=e.t(ref).task_id, **kw)
    return e.events_of()


def _rerun_event(e: Engine) -> ev.WorkflowRerun:
    found = [x for x in e.history if isinstance(x, ev.WorkflowRerun)]
    return found[-1]


def test_rerun_inside_a_fork_branch_keeps_the_completed_sibling_branch():
    e = Engine.of([FORK], DEFS)
    e.start("fork")
    e.report("a1")
    e.report("b1")
    e.report("b2", output={"b": 2})  # scheduled after a2: a seq cut would drop it
    e.report("a2", TaskStatus.FAILED, reason="boom")
    assert e.state.status is WorkflowStatus.FAILED
    b2, old_a2, old_j = e.t("b2").task_id, e.t("a2").task_id, e.t("j").task_id
    assert e.t("b2").seq > e.t("a2").seq

    assert _rerun(e, "a2") == ["WorkflowRerun", "TaskScheduled", "TaskScheduled"]

    assert _rerun_event(e).retired_task_ids == (old_a2, old_j)
    assert e.state.status is WorkflowStatus.RUNNING
    assert e.t("b2").task_id == b2 and e.t("b2").status is TaskStatus.COMPLETED
    assert e.state.join_waiting[e.t("j").task_id] == 1  # only a2 is awaited again
    e.report("a2", output={"a": 2})
    assert e.t("j").output == {"a2": {"a": 2}, "b2": {"b": 2}}
    e.report("c", output={"done": True})
    assert e.state.status is WorkflowStatus.COMPLETED
    assert old_a2 in e.state.tasks  # history is never deleted


def test_rerun_inside_a_fork_branch_runs_the_canceled_sibling_again():
    e = Engine.of([FORK], DEFS)
    e.start("fork")
    e.report("a1", TaskStatus.FAILED, reason="boom")
    canceled = e.t("b1")
    assert canceled.status is TaskStatus.CANCELED

    _rerun(e, "a1")

    assert e.t("b1").retried_task_id == canceled.task_id
    assert e.t("b1").status is TaskStatus.SCHEDULED
    for ref in ("a1", "b1", "a2", "b2", "c"):
        e.report(ref)
    assert e.state.status is WorkflowStatus.COMPLETED


def test_rerun_task_input_replaces_the_task_input_as_conductor():
    e = Engine.of([FORK], DEFS)
    e.start("fork", {"k": 1})
    e.report("a1", TaskStatus.FAILED)
    _rerun(e, "a1", workflow_input={"k": 2}, task_input={"z": 1})
    assert e.state.input == {"k": 2}
    assert e.t("a1").input == {"z": 1}


SWITCH = workflow(
    "sw",
    task(
        "s",
        "SWITCH",
        evaluator_type="value-param",
        expression="v",
        input_parameters={"v": "go"},
        decision_cases={"go": (task("s1"), task("s2"))},
    ),
    task("c"),
)


def test_rerun_inside_a_switch_case_runs_the_case_on_after_the_completed_switch():
    e = Engine.of([SWITCH], DEFS)
    e.start("sw")
    e.report("s1")
    e.report("s2", TaskStatus.FAILED)
    assert e.t("s").status is TaskStatus.COMPLETED  # completed when its case was chosen

    assert _rerun(e, "s1") == ["WorkflowRerun", "TaskScheduled"]

    assert e.t("s").status is TaskStatus.COMPLETED  # as Conductor's finalizeRerun leaves it
    assert e.state.current("s2") is None  # downstream of s1: left the view
    e.report("s1")
    e.report("s2")
    assert e.t("s").status is TaskStatus.COMPLETED
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED


LOOP = workflow(
    "loop",
    task(
        "loop",
        "DO_WHILE",
        loop_condition="$.loop['iteration'] < 3",
        loop_over=(task("x"), task("y")),
    ),
    task("c"),
)
LOOP_JS = FakeScripts(js={"$.loop['iteration'] < 3": lambda b: b["loop"]["iteration"] < 3})


def test_rerun_from_an_earlier_loop_iteration_drops_the_later_ones():
    e = Engine.of([LOOP], DEFS, scripts=LOOP_JS)
    e.start("loop")
    for n in (1, 2, 3):
        e.report(f"x__{n}", output={"n": n})
        e.report(f"y__{n}")
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED
    x1 = e.t("x__1")

    _rerun(e, "x__2")

    loop = e.t("loop")
    assert loop.status is TaskStatus.IN_PROGRESS
    assert loop.output["iteration"] == 2 and "2" not in loop.output and "1" in loop.output
    assert e.t("x__1").task_id == x1.task_id  # iteration 1 stays
    assert all(e.state.current(r) is None for r in ("y__2", "x__3", "y__3", "c"))
    assert e.state.lookup_ref("y").ref == "y__1"  # unsuffixed refs: the newest in the view
    e.report("x__2")
    e.report("y__2")
    e.report("x__3")
    e.report("y__3")
    assert e.t("loop").status is TaskStatus.COMPLETED
    assert e.t("loop").output["iteration"] == 3
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED


DYN = workflow(
    "dyn",
    task(
        "df",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"forkTaskName": "x", "forkTaskInputs": [{"i": 0}, {"i": 1}]},
    ),
    task("dj", "JOIN"),
)


def test_rerun_of_one_dynamic_fork_branch():
    e = Engine.of([DYN], DEFS)
    e.start("dyn")
    refs = e.t("dj").input["joinOn"]
    e.report(refs[0], output={"ok": 0})
    e.report(refs[1], TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.FAILED

    _rerun(e, refs[1])

    assert e.t(refs[0]).status is TaskStatus.COMPLETED
    assert e.t("dj").status is TaskStatus.IN_PROGRESS
    e.report(refs[1], output={"ok": 1})
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.t("dj").output == {refs[0]: {"ok": 0}, refs[1]: {"ok": 1}}


PARENT = workflow(
    "parent",
    task("a1"),
    task("sub", "SUB_WORKFLOW", sub_workflow_param=SubWorkflowParams(name="child")),
    task("c"),
)


def test_a_rerun_child_reopens_its_parent_task_in_place():
    e = Engine.of([PARENT, workflow("child", task("x"))], DEFS)
    e.start("parent")
    e.report("a1")
    sub = e.t("sub")
    e.send(
        cmd.ChildWorkflowFinished(
            workflow_id="wf-1",
            at=e.now,
            actor="engine",
            parent_task_id=sub.task_id,
            child_workflow_id=str(sub.child_workflow_id),
            status=WorkflowStatus.FAILED,
            reason="x failed",
        )
    )
    assert e.state.status is WorkflowStatus.FAILED
    effects_before = len(e.effects)

    e.op(cmd.RerunWorkflow, from_task_id=sub.task_id, rerun_child_id=sub.child_workflow_id)

    assert e.events_of() == ["WorkflowRerun", "TaskProgressed"]
    assert e.t("sub").task_id == sub.task_id and e.t("sub").status is TaskStatus.IN_PROGRESS
    assert e.t("sub").logs[-1] == f"Sub workflow {sub.child_workflow_id} reran."
    assert not [f for f in e.effects[effects_before:] if isinstance(f, EmitCommand)]
    assert _rerun_event(e).retired_task_ids == ()
    e.send(
        cmd.ChildWorkflowFinished(
            workflow_id="wf-1",
            at=e.now,
            actor="engine",
            parent_task_id=sub.task_id,
            child_workflow_id=str(sub.child_workflow_id),
            status=WorkflowStatus.COMPLETED,
            output={"r": 1},
        )
    )
    assert e.t("sub").status is TaskStatus.COMPLETED
    e.report("c")
    assert e.state.status is WorkflowStatus.COMPLETED


def test_a_rerun_workflow_with_a_parent_tells_the_parent():
    e = Engine.of([workflow("child", task("x"), task("y"))], DEFS)
    e.start("child", parent_workflow_id="p-1", parent_task_id="p-task")
    e.report("x")
    e.report("y", TaskStatus.FAILED)
    e.effects.clear()
    _rerun(e, "y")
    resumes = [f.command for f in e.effects if isinstance(f, EmitCommand)]
    assert resumes == [
        cmd.RerunWorkflow(
            workflow_id="p-1",
            root_workflow_id=e.state.root_workflow_id,
            at=e.now,
            actor="engine",
            from_task_id="p-task",
            rerun_child_id="wf-1",
        )
    ]


def test_rejects_rerun_of_a_running_workflow_and_of_an_unknown_task():
    e = Engine.of([FORK], DEFS)
    e.start("fork")
    a1 = e.t("a1").task_id
    assert e.rejected(e.op(cmd.RerunWorkflow, from_task_id=a1)).code is (
        RejectionCode.WORKFLOW_NOT_TERMINAL
    )
    e.op(cmd.TerminateWorkflow)
    assert e.rejected(e.op(cmd.RerunWorkflow, from_task_id="nope")).code is (
        RejectionCode.TASK_NOT_FOUND
    )


def test_rejects_a_child_rerun_for_another_child():
    e = Engine.of([PARENT, workflow("child", task("x"))], DEFS)
    e.start("parent")
    e.op(cmd.TerminateWorkflow)
    a1 = e.t("a1").task_id
    decision = e.op(cmd.RerunWorkflow, from_task_id=a1, rerun_child_id="someone-else")
    assert e.rejected(decision).code is RejectionCode.STALE_ATTEMPT


def test_a_second_rerun_can_start_from_a_task_kept_from_an_earlier_generation():
    e = Engine.of([FORK], DEFS)
    e.start("fork")
    e.report("a1")
    e.report("a2", TaskStatus.FAILED)
    _rerun(e, "a2")
    e.report("a2", TaskStatus.FAILED)
    assert e.t("a1").generation == 0
    _rerun(e, "a1")
    assert e.state.generation == 2
    assert e.t("a1").generation == 2 and e.t("a1").status is TaskStatus.SCHEDULED
