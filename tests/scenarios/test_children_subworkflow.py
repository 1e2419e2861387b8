"""Whole workflow trees in the in-memory runtime: SUB_WORKFLOW and START_WORKFLOW."""

from __future__ import annotations

from functools import reduce

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import SubWorkflowParams, TaskDef, WorkflowDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times, never
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context
from orchestrator.testing.workers import Worker

CHILD = workflow("child", task("work", input_parameters={"n": "${workflow.input.n}"}))
PARENT = workflow(
    "parent",
    task(
        "sub",
        "SUB_WORKFLOW",
        name="sub_task",
        sub_workflow_param=SubWorkflowParams(name="child"),
        input_parameters={"n": "${workflow.input.n}"},
    ),
    task("after", input_parameters={"got": "${sub.output.doubled}"}),
)
TASK_DEFS = [
    TaskDef(name="work", retry_count=0),
    TaskDef(name="after"),
    TaskDef(name="sub_task", retry_count=1, retry_delay_seconds=0),
]


def _runtime(*defs: WorkflowDef, **workers: Worker) -> InMemoryRuntime:
    return InMemoryRuntime(ctx=dict_context([PARENT, CHILD, *defs], TASK_DEFS), workers=workers)


def _start(rt: InMemoryRuntime, name: str = "parent", wid: str = "p-1") -> None:
    rt.submit(
        cmd.StartWorkflow(workflow_id=wid, at=T0, actor="api:test", name=name, input={"n": 21})
    )


def _child_id(rt: InMemoryRuntime, attempt: int = 0) -> str:
    tasks = sorted(
        (t for t in rt.state("p-1").tasks.values() if t.ref == "sub"), key=lambda t: t.seq
    )
    return str(tasks[attempt].child_workflow_id)


def _assert_live_equals_replay(rt: InMemoryRuntime) -> None:
    for wid, events in rt.events.items():
        replayed: WorkflowState | None = reduce(evolve, events, None)
        assert replayed == rt.state(wid), wid


def test_parent_with_a_sub_workflow_completes_with_the_childs_output() -> None:
    rt = _runtime(
        work=always(lambda t: {"doubled": t.input_data["n"] * 2}), after=always({"ok": 1})
    )
    _start(rt)
    child = rt.state(_child_id(rt))
    assert child.status is WorkflowStatus.COMPLETED
    assert (child.root_workflow_id, child.parent_workflow_id) == ("p-1", "p-1")
    parent = rt.state("p-1")
    assert parent.status is WorkflowStatus.COMPLETED
    assert parent.current("sub").output == {"subWorkflowId": child.workflow_id, "doubled": 42}  # type: ignore[union-attr]
    assert parent.current("after").input == {"got": 42}  # type: ignore[union-attr]
    assert not rt.rejections
    _assert_live_equals_replay(rt)


def test_a_failed_child_is_retried_as_a_new_child_and_the_parent_completes() -> None:
    rt = _runtime(work=fail_times(1, output={"doubled": 2}), after=always())
    _start(rt)
    first, second = rt.state(_child_id(rt, 0)), rt.state(_child_id(rt, 1))
    assert first.status is WorkflowStatus.FAILED
    assert second.status is WorkflowStatus.COMPLETED and second.workflow_id != first.workflow_id
    assert rt.state("p-1").status is WorkflowStatus.COMPLETED
    _assert_live_equals_replay(rt)


def test_a_child_failing_beyond_retries_fails_the_parent_with_the_childs_reason() -> None:
    rt = _runtime(work=always(status=TaskStatus.FAILED))
    _start(rt)
    parent = rt.state("p-1")
    assert parent.status is WorkflowStatus.FAILED
    assert "Sub workflow child.1/" in str(parent.reason)


def test_terminating_the_parent_terminates_the_running_child() -> None:
    rt = _runtime(work=never())
    _start(rt)
    child_id = _child_id(rt)
    assert rt.state(child_id).status is WorkflowStatus.RUNNING
    rt.submit(cmd.TerminateWorkflow(workflow_id="p-1", at=T0 + 10, actor="api:ops", reason="stop"))
    assert rt.state("p-1").status is WorkflowStatus.TERMINATED
    child = rt.state(child_id)
    assert child.status is WorkflowStatus.TERMINATED
    assert child.current("work").status is TaskStatus.CANCELED  # type: ignore[union-attr]
    # the child's end is reported to a parent that has ended: rejected, recorded, harmless
    assert [type(c).__name__ for c, _ in rt.rejections] == ["ChildWorkflowFinished"]
    _assert_live_equals_replay(rt)


def test_retry_with_resume_subworkflow_tasks_retries_the_same_child() -> None:
    rt = _runtime(work=fail_times(2, output={"doubled": 1}), after=always())
    _start(rt)
    assert rt.state("p-1").status is WorkflowStatus.FAILED
    children = {_child_id(rt, 0), _child_id(rt, 1)}
    rt.submit(
        cmd.RetryWorkflow(
            workflow_id="p-1", at=T0 + 50, actor="api:x", resume_subworkflow_tasks=True
        )
    )
    assert rt.state("p-1").status is WorkflowStatus.COMPLETED
    assert {
        t.child_workflow_id for t in rt.state("p-1").tasks.values() if t.ref == "sub"
    } == children
    assert rt.state(_child_id(rt, 1)).status is WorkflowStatus.COMPLETED
    _assert_live_equals_replay(rt)


def test_nested_sub_workflows_share_the_root_and_end_in_order() -> None:
    grand = workflow(
        "grand",
        task("s", "SUB_WORKFLOW", name="s", sub_workflow_param=SubWorkflowParams(name="parent")),
    )
    rt = _runtime(grand, work=always({"doubled": 0}), after=always({"done": True}))
    _start(rt, "grand", "g-1")
    states = list(rt.states.values())
    assert len(states) == 3 and all(s.root_workflow_id == "g-1" for s in states)
    assert all(s.status is WorkflowStatus.COMPLETED for s in states)
    assert rt.state("g-1").output["done"] is True


def test_start_workflow_fires_and_forgets_a_new_root_workflow() -> None:
    starter = workflow(
        "starter",
        task(
            "kick",
            "START_WORKFLOW",
            input_parameters={"startWorkflow": {"name": "child", "input": {"n": 1}}},
        ),
    )
    rt = _runtime(starter, work=never())
    _start(rt, "starter", "s-1")
    assert rt.state("s-1").status is WorkflowStatus.COMPLETED
    started_id = rt.state("s-1").output["workflowId"]
    started = rt.state(started_id)
    assert started.status is WorkflowStatus.RUNNING  # not awaited
    assert started.root_workflow_id == started_id and started.parent_workflow_id is None
    assert started.input == {"n": 1}
    _assert_live_equals_replay(rt)


def test_a_runtime_restart_restates_child_starts_harmlessly() -> None:
    rt = _runtime(work=never())
    _start(rt)
    before = dict(rt.states)
    rt.restart()
    assert rt.states == before
    [(command, rejection)] = rt.rejections  # the restated child start, refused as a duplicate
    assert isinstance(command, cmd.StartWorkflow) and command.workflow_id == _child_id(rt)
    assert rejection.code == "ALREADY_EXISTS"
