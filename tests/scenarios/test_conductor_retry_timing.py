"""Issue #16, retries and timeouts as Conductor OSS 3.32.3 (WorkflowAndTaskConfigurationSpec,
SubWorkflowSpec; checked against the real server):

- Retrying a TIMED_OUT workflow restarts its timeout clock (lastRetriedTime).
- Retrying a child revives its TIMED_OUT (or FAILED) parent, the SUB_WORKFLOW task in place.
- A WAIT whose task definition has a timeout times out and is retried after the retry delay.
"""

from __future__ import annotations

from functools import reduce

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import (
    SubWorkflowParams,
    TaskDef,
    TaskTimeoutPolicy,
    WorkflowTimeoutPolicy,
)
from orchestrator.domain.evolve import evolve
from orchestrator.domain.inputs import conductor_callback
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, never
from orchestrator.testing.builders import task, workflow
from orchestrator.testing.context import dict_context

TIME_OUT_WF = WorkflowTimeoutPolicy.TIME_OUT_WF


def _start(rt: InMemoryRuntime, name: str, wid: str = "wf") -> None:
    rt.submit(cmd.StartWorkflow(workflow_id=wid, at=rt.clock.now, actor="api:t", name=name))


def _retry(rt: InMemoryRuntime, wid: str) -> None:
    rt.submit(cmd.RetryWorkflow(workflow_id=wid, at=rt.clock.now, actor="api:t"))


def _tasks(state: WorkflowState) -> list[tuple[str, str, int]]:
    tasks = sorted(state.tasks.values(), key=lambda t: t.seq)
    return [(t.ref, str(t.status), t.retry_count) for t in tasks]


def _live_equals_replay(rt: InMemoryRuntime) -> None:
    for wid, events in rt.events.items():
        assert reduce(evolve, events, None) == rt.state(wid), wid


# --- the workflow timeout after a retry -------------------------------------------------------


def test_retrying_a_timed_out_workflow_restarts_its_timeout_clock() -> None:
    flow = workflow("wto", task("a"), timeout_seconds=3, timeout_policy=TIME_OUT_WF)
    ctx = dict_context([flow], [TaskDef(name="a")])
    rt = InMemoryRuntime(ctx, workers={"a": never()}, ack=False)  # nobody polls
    _start(rt, "wto")
    rt.advance(3_000)
    state = rt.state("wf")
    assert state.status is WorkflowStatus.TIMED_OUT
    assert _tasks(state) == [("a", "CANCELED", 0)]

    rt.advance(10_000)  # long after the first deadline
    _retry(rt, "wf")
    retried_at = rt.clock.now
    assert rt.state("wf").status is WorkflowStatus.RUNNING  # not timed out again at once
    assert _tasks(rt.state("wf")) == [("a", "CANCELED", 0), ("a", "SCHEDULED", 1)]

    rt.advance(2_999)
    assert rt.state("wf").status is WorkflowStatus.RUNNING
    rt.advance(1)
    state = rt.state("wf")
    assert state.status is WorkflowStatus.TIMED_OUT
    assert state.ended_at == retried_at + 3_000
    assert state.started_at < retried_at == state.retried_at  # startTime stays
    _live_equals_replay(rt)


# --- retrying a child revives its parent ----------------------------------------------------

CHILD = workflow("child", task("ct"))
PARENT = workflow(
    "parent",
    task("sub", "SUB_WORKFLOW", sub_workflow_param=SubWorkflowParams(name="child", version=1)),
    timeout_seconds=3,
    timeout_policy=TIME_OUT_WF,
)


def test_retrying_the_child_of_a_timed_out_parent_revives_the_parent() -> None:
    worker = {"calls": 0}

    def ct(task_: object) -> object:
        worker["calls"] += 1
        return None if worker["calls"] == 1 else always({"op": "done"})(task_)  # type: ignore[arg-type]

    ctx = dict_context([PARENT, CHILD], [TaskDef(name="ct", retry_count=0)])
    rt = InMemoryRuntime(ctx, workers={"ct": ct})  # type: ignore[dict-item]
    _start(rt, "parent", "p")
    rt.advance(3_000)
    parent = rt.state("p")
    child_id = str(parent.current("sub").child_workflow_id)  # type: ignore[union-attr]
    assert parent.status is WorkflowStatus.TIMED_OUT
    assert _tasks(parent) == [("sub", "CANCELED", 0)]
    assert rt.state(child_id).status is WorkflowStatus.TERMINATED
    sub_id = parent.current("sub").task_id  # type: ignore[union-attr]

    rt.advance(1_000)
    _retry(rt, child_id)

    parent, child = rt.state("p"), rt.state(child_id)
    assert child.status is WorkflowStatus.COMPLETED  # the worker completed the new attempt
    assert _tasks(child) == [("ct", "CANCELED", 0), ("ct", "COMPLETED", 1)]
    assert parent.status is WorkflowStatus.COMPLETED
    assert _tasks(parent) == [("sub", "COMPLETED", 0)]  # the same task, reopened in place
    assert parent.current("sub").task_id == sub_id  # type: ignore[union-attr]
    assert parent.output == {"subWorkflowId": child_id, "op": "done"}
    assert "Sub workflow " + child_id + " retried." in parent.current("sub").logs  # type: ignore[union-attr]
    assert not [c for c, _ in rt.rejections if isinstance(c, cmd.RetryWorkflow)]
    _live_equals_replay(rt)


def test_a_revived_parent_times_out_again_from_the_retry() -> None:
    ctx = dict_context([PARENT, CHILD], [TaskDef(name="ct", retry_count=0)])
    rt = InMemoryRuntime(ctx, workers={"ct": never()})
    _start(rt, "parent", "p")
    rt.advance(3_000)
    child_id = str(rt.state("p").current("sub").child_workflow_id)  # type: ignore[union-attr]
    rt.advance(5_000)
    _retry(rt, child_id)
    assert rt.state("p").status is WorkflowStatus.RUNNING
    assert rt.state("p").current("sub").status is TaskStatus.IN_PROGRESS  # type: ignore[union-attr]
    rt.advance(3_000)
    assert rt.state("p").status is WorkflowStatus.TIMED_OUT  # 3 s after the revival
    assert rt.state(child_id).status is WorkflowStatus.TERMINATED  # and the child with it
    _live_equals_replay(rt)


def test_a_parent_retrying_its_child_is_not_reopened_twice() -> None:
    child = workflow("child", task("ct"))
    parent = workflow(
        "parent", task("sub", "SUB_WORKFLOW", sub_workflow_param=SubWorkflowParams(name="child"))
    )
    answers = iter([None, {"ok": 1}])

    def ct(task_: object) -> object:
        out = next(answers)
        from orchestrator.testing.workers import Reply

        return Reply(status=TaskStatus.FAILED) if out is None else Reply(output=out)

    ctx = dict_context([parent, child], [TaskDef(name="ct", retry_count=0)])
    rt = InMemoryRuntime(ctx, workers={"ct": ct})  # type: ignore[dict-item]
    _start(rt, "parent", "p")
    assert rt.state("p").status is WorkflowStatus.FAILED
    rt.submit(
        cmd.RetryWorkflow(
            workflow_id="p", at=rt.clock.now, actor="api:t", resume_subworkflow_tasks=True
        )
    )
    assert rt.state("p").status is WorkflowStatus.COMPLETED
    assert _tasks(rt.state("p")) == [("sub", "COMPLETED", 0)]
    # the child's retry tells the parent, which already runs: a harmless rejection
    assert [r.code.value for c, r in rt.rejections if isinstance(c, cmd.RetryWorkflow)] == [
        "WORKFLOW_NOT_TERMINAL"
    ]


# --- a WAIT with a TaskDef timeout -------------------------------------------------------------

WAIT_DEF = TaskDef(
    name="waitTimeout",
    timeout_seconds=2,
    response_timeout_seconds=2,
    retry_count=1,
    timeout_policy=TaskTimeoutPolicy.RETRY,
    retry_delay_seconds=10,
)
WAIT_FLOW = workflow("waitto", task("wait0", "WAIT", name="waitTimeout"), task("t1"))


def test_a_wait_with_a_task_timeout_times_out_and_is_retried_after_the_delay() -> None:
    ctx = dict_context([WAIT_FLOW], [WAIT_DEF, TaskDef(name="t1")])
    rt = InMemoryRuntime(ctx, workers={"t1": always()})
    _start(rt, "waitto")
    assert _tasks(rt.state("wf")) == [("wait0", "IN_PROGRESS", 0)]

    rt.advance(2_000)
    state = rt.state("wf")
    assert _tasks(state) == [("wait0", "TIMED_OUT", 0), ("wait0", "SCHEDULED", 1)]
    first = min(state.tasks.values(), key=lambda t: t.seq)
    assert first.reason == (
        "Task timed out after 2 seconds. Timeout configured as 2 seconds. "
        "Timeout policy configured to RETRY"
    )
    retried = state.current("wait0")
    assert retried is not None and conductor_callback(retried) == 10

    rt.advance(10_000)  # the retry delay: the WAIT starts
    assert _tasks(rt.state("wf"))[-1] == ("wait0", "IN_PROGRESS", 1)
    rt.submit(
        cmd.UpdateTaskByRef(
            workflow_id="wf",
            at=rt.clock.now,
            actor="api:t",
            task_ref="wait0",
            status=TaskStatus.COMPLETED,
        )
    )
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    assert _tasks(state) == [
        ("wait0", "TIMED_OUT", 0),
        ("wait0", "COMPLETED", 1),
        ("t1", "COMPLETED", 0),
    ]
    _live_equals_replay(rt)


def test_a_retried_wait_can_be_completed_while_it_waits_out_its_delay() -> None:
    ctx = dict_context([WAIT_FLOW], [WAIT_DEF, TaskDef(name="t1")])
    rt = InMemoryRuntime(ctx, workers={"t1": always()})
    _start(rt, "waitto")
    rt.advance(2_000)
    rt.submit(
        cmd.UpdateTaskByRef(
            workflow_id="wf",
            at=rt.clock.now,
            actor="api:t",
            task_ref="wait0",
            status=TaskStatus.COMPLETED,
        )
    )  # as WaitTaskSpec / WorkflowAndTaskConfigurationSpec: the SCHEDULED attempt completes
    assert rt.state("wf").status is WorkflowStatus.COMPLETED
    rt.run_until_idle()  # its delay timer is stale now: rejected, nothing happens
    assert rt.state("wf").status is WorkflowStatus.COMPLETED
