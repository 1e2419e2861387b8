"""Rerun in the in-memory runtime: a whole tree (fork + sub-workflow) fails deep inside the
child, is rerun from the child's failed task, and completes; siblings that completed are kept,
and the live states equal the replay of their logs."""

from __future__ import annotations

from functools import reduce

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import SubWorkflowParams, TaskDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context

CHILD = workflow("child", task("prepare"), task("charge"), task("receipt"))
PARENT = workflow(
    "order",
    task(
        "fork",
        "FORK_JOIN",
        fork_tasks=(
            (
                task(
                    "pay",
                    "SUB_WORKFLOW",
                    name="pay_sub",
                    sub_workflow_param=SubWorkflowParams(name="child"),
                ),
            ),
            (task("ship"), task("notify")),
        ),
    ),
    task("join", "JOIN", join_on=("pay", "notify")),
    task("close"),
)
TASK_DEFS = [
    TaskDef(name=n, retry_count=0) for n in ("prepare", "charge", "receipt", "ship", "notify")
] + [TaskDef(name="close"), TaskDef(name="pay_sub", retry_count=0)]


def _live_equals_replay(rt: InMemoryRuntime) -> None:
    for wid, events in rt.events.items():
        replayed: WorkflowState | None = reduce(evolve, events, None)
        assert replayed == rt.state(wid), wid


def test_rerun_from_a_failed_task_inside_a_child_completes_the_whole_tree() -> None:
    rt = InMemoryRuntime(
        ctx=dict_context([PARENT, CHILD], TASK_DEFS),
        workers={
            "prepare": always({"p": 1}),
            "charge": fail_times(1, output={"charged": 10}),  # the card is declined once
            "receipt": always({"r": 1}),
            "ship": always({"tracking": "T1"}),
            "notify": always(),
            "close": always({"closed": True}),
        },
    )
    rt.submit(cmd.StartWorkflow(workflow_id="o-1", at=T0, actor="api:test", name="order"))
    parent = rt.state("o-1")
    child_id = str(parent.current("pay").child_workflow_id)  # type: ignore[union-attr]
    assert rt.state(child_id).status is WorkflowStatus.FAILED
    assert parent.status is WorkflowStatus.FAILED
    ship = parent.current("ship")
    assert ship is not None and ship.status is TaskStatus.COMPLETED
    dispatched_before = [d.task_type for d in rt.dispatched]

    charge = rt.state(child_id).current("charge")
    assert charge is not None
    rt.submit(
        cmd.RerunWorkflow(
            workflow_id=child_id,
            root_workflow_id="o-1",
            at=T0 + 60_000,
            actor="api:ops",
            from_task_id=charge.task_id,
            task_input={"card": "new"},
        )
    )

    child, parent = rt.state(child_id), rt.state("o-1")
    assert child.status is WorkflowStatus.COMPLETED
    assert child.current("charge").input == {"card": "new"}  # type: ignore[union-attr]
    assert parent.status is WorkflowStatus.COMPLETED
    assert parent.current("pay").output["r"] == 1  # type: ignore[index, union-attr]
    assert parent.current("ship").task_id == ship.task_id  # type: ignore[union-attr]
    assert parent.output == {"closed": True}  # the last task's output
    # Only the rerun part ran again: charge, receipt, close (not prepare, ship, notify).
    assert [d.task_type for d in rt.dispatched][len(dispatched_before) :] == [
        "charge",
        "receipt",
        "close",
    ]
    reruns = [e for e in rt.events["o-1"] if isinstance(e, ev.WorkflowRerun)]
    assert len(reruns) == 1 and reruns[0].actor == "engine"
    assert not rt.rejections
    _live_equals_replay(rt)
