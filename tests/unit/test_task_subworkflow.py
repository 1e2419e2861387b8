"""SUB_WORKFLOW: the parent task starts a child (same root), waits for its end, maps its status."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain import ids
from orchestrator.domain.definitions import SubWorkflowParams, TaskDef, WorkflowTask
from orchestrator.domain.effects import EmitCommand
from orchestrator.domain.outcome import Accepted, Rejected, RejectionCode
from orchestrator.domain.react import resume
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.unit.handler_kit import T0, Flow, flow, task, workflow

CHILD_V1 = workflow("child", task("c1"), version=1)
CHILD_V2 = workflow("child", task("c1"), task("c2"), version=2)


def _sub(
    ref: str = "sub", name: str | None = "child", version: int | None = None, **kw: Any
) -> WorkflowTask:
    params = SubWorkflowParams(name=name, version=version, **kw)
    return task(
        ref,
        "SUB_WORKFLOW",
        name="sub_task",
        sub_workflow_param=params,
        input_parameters={"x": "${workflow.input.x}"},
    )


def _parent(
    sub: WorkflowTask | None = None, retries: int = 0, optional: bool = False, **start: Any
) -> Flow:
    sub = replace(sub or _sub(), optional=optional)
    parent = workflow("parent", sub, task("after"))
    f = flow(
        [parent, CHILD_V1, CHILD_V2],
        [TaskDef(name="sub_task", retry_count=retries, retry_delay_seconds=0)],
    )
    f.start("parent", {"x": 7}, **start)
    return f


def test_sub_workflow_task_is_in_progress_with_the_child_id_in_its_output() -> None:
    f = _parent()
    sub = f.task("sub")
    assert sub.status is TaskStatus.IN_PROGRESS
    assert sub.child_workflow_id == ids.child_workflow_id(sub.task_id)
    assert sub.output == {"subWorkflowId": sub.child_workflow_id}


def test_parent_emits_the_child_start_keyed_by_its_root_with_parent_links() -> None:
    f = _parent(correlation_id="corr-1", task_to_domain={"*": "blue"})
    sub = f.task("sub")
    [start] = f.emitted(cmd.StartWorkflow)
    assert start.workflow_id == sub.child_workflow_id
    assert start.root_workflow_id == "wf-1" and start.root == "wf-1"
    assert (start.parent_workflow_id, start.parent_task_id) == ("wf-1", sub.task_id)
    assert (start.name, start.version) == ("child", 2)
    assert start.input == {"x": 7}
    assert start.correlation_id == "corr-1"
    assert start.task_to_domain == {"*": "blue"}


def test_task_input_has_conductors_sub_workflow_fields_with_the_latest_version_pinned() -> None:
    f = _parent()
    assert f.task("sub").input == {
        "x": 7,
        "subWorkflowName": "child",
        "subWorkflowVersion": 2,
        "subWorkflowTaskToDomain": None,
        "subWorkflowDefinition": None,
        "workflowInput": {"x": 7},
    }


def test_explicit_version_and_task_to_domain_are_passed_to_the_child() -> None:
    f = _parent(sub=_sub(version=1, task_to_domain={"c1": "green"}))
    [start] = f.emitted(cmd.StartWorkflow)
    assert (start.version, start.task_to_domain) == (1, {"c1": "green"})


def test_inline_definition_is_passed_to_the_child_start() -> None:
    inline = workflow("inline_child", task("i1"), version=3)
    f = _parent(sub=_sub(name=None, workflow_definition=inline))
    [start] = f.emitted(cmd.StartWorkflow)
    assert start.definition == inline
    assert (start.name, start.version) == ("inline_child", 3)


def test_child_start_is_decided_as_a_child_of_the_same_tree() -> None:
    f = _parent()
    [start] = f.emitted(cmd.StartWorkflow)
    child = Flow(ctx=f.ctx, workflow_id=start.workflow_id)
    child.accept(start)
    assert child.st.root_workflow_id == "wf-1"
    assert (child.st.parent_workflow_id, child.st.parent_task_id) == ("wf-1", f.task("sub").task_id)
    assert all(e.root_workflow_id == "wf-1" for e in child.history)


def test_child_completion_completes_the_task_with_the_child_output_and_id() -> None:
    f = _parent()
    child_id = f.task("sub").child_workflow_id
    assert isinstance(f.child_finished("sub", WorkflowStatus.COMPLETED, {"y": 1}), Accepted)
    sub = f.task("sub")
    assert sub.status is TaskStatus.COMPLETED
    assert sub.output == {"subWorkflowId": child_id, "y": 1}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_child_failure_fails_the_task_and_the_workflow_with_the_childs_reason() -> None:
    f = _parent()
    child_id = f.task("sub").child_workflow_id
    f.child_finished("sub", WorkflowStatus.FAILED, {"e": 1}, reason="c1 broke")
    sub = f.task("sub")
    assert sub.status is TaskStatus.FAILED
    assert sub.reason == f"Sub workflow child.2/{child_id} failure reason: c1 broke"
    assert sub.output == {"subWorkflowId": child_id, "e": 1}
    assert f.st.status is WorkflowStatus.FAILED


def test_child_failure_is_retried_with_a_new_child() -> None:
    f = _parent(retries=1)
    first = f.task("sub")
    f.child_finished("sub", WorkflowStatus.FAILED, reason="boom")
    retry = f.task("sub")
    assert retry.task_id != first.task_id and retry.retry_count == 1
    assert retry.child_workflow_id not in (None, first.child_workflow_id)
    assert retry.input == first.input  # same pinned version, same child input
    [start] = f.emitted(cmd.StartWorkflow)
    assert start.workflow_id == retry.child_workflow_id
    assert start.parent_task_id == retry.task_id


def test_timed_out_child_times_out_the_task_and_is_retried() -> None:
    f = _parent(retries=1)
    f.child_finished("sub", WorkflowStatus.TIMED_OUT, reason="slow")
    assert f.st.tasks[f.task("sub").retried_task_id].status is TaskStatus.TIMED_OUT  # type: ignore[index]
    assert f.task("sub").retry_count == 1


def test_terminated_child_cancels_the_task_and_terminates_the_parent_without_retry() -> None:
    f = _parent(retries=3)
    f.child_finished("sub", WorkflowStatus.TERMINATED, reason="by ops")
    assert f.task("sub").status is TaskStatus.CANCELED
    assert f.task("sub").retry_count == 0
    assert f.st.status is WorkflowStatus.TERMINATED


def test_optional_sub_workflow_whose_child_fails_completes_with_errors() -> None:
    f = _parent(optional=True)
    f.child_finished("sub", WorkflowStatus.FAILED, reason="boom")
    assert f.task("sub").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_rejects_a_duplicate_child_finished() -> None:
    f = _parent()
    f.child_finished("sub", WorkflowStatus.COMPLETED, {"y": 1})
    again = f.child_finished("sub", WorkflowStatus.COMPLETED, {"y": 2})
    assert isinstance(again, Rejected) and again.code is RejectionCode.TASK_ALREADY_TERMINAL


def test_rejects_child_finished_from_the_child_of_a_previous_attempt() -> None:
    f = _parent(retries=1)
    first = f.task("sub")
    f.child_finished("sub", WorkflowStatus.FAILED, reason="boom")
    late = f.child_finished(
        "sub", WorkflowStatus.COMPLETED, task_id=first.task_id, child_id=first.child_workflow_id
    )
    assert isinstance(late, Rejected) and late.code is RejectionCode.TASK_ALREADY_TERMINAL
    assert f.task("sub").status is TaskStatus.IN_PROGRESS
    stranger = f.child_finished("sub", WorkflowStatus.COMPLETED, child_id="someone-else")
    assert isinstance(stranger, Rejected) and stranger.code is RejectionCode.STALE_ATTEMPT


def test_rejects_child_finished_with_a_non_terminal_status() -> None:
    f = _parent()
    running = f.child_finished("sub", WorkflowStatus.RUNNING)
    assert isinstance(running, Rejected) and running.code is RejectionCode.INVALID_REQUEST
    assert f.task("sub").status is TaskStatus.IN_PROGRESS


def test_unknown_child_definition_fails_the_task_with_a_clear_reason_and_starts_nothing() -> None:
    f = _parent(sub=_sub(name="nope"))
    sub = f.task("sub")
    assert sub.status is TaskStatus.FAILED
    assert (
        sub.reason == "The Task nope defined as a sub-workflow has no workflow definition available"
    )
    assert f.emitted(cmd.StartWorkflow) == []


def test_unknown_child_version_fails_the_task_with_a_clear_reason() -> None:
    f = _parent(sub=_sub(version=9))
    assert f.task("sub").reason == "No such workflow found by name: child, version: 9"


def test_child_start_that_cannot_run_records_a_failed_child_that_tells_its_parent() -> None:
    child = flow([], workflow_id="child-1")
    start = cmd.StartWorkflow(
        workflow_id="child-1",
        root_workflow_id="root-1",
        at=T0,
        actor="engine",
        name="gone",
        version=4,
        parent_workflow_id="p-1",
        parent_task_id="pt-1",
    )
    events = child.accept(start)
    assert [type(e) for e in events] == [ev.WorkflowStarted, ev.WorkflowFailed]
    assert child.st.status is WorkflowStatus.FAILED
    [finished] = child.emitted(cmd.ChildWorkflowFinished)
    assert (finished.workflow_id, finished.parent_task_id) == ("p-1", "pt-1")
    assert finished.root_workflow_id == "root-1"
    assert finished.status is WorkflowStatus.FAILED
    assert finished.reason == "no workflow definition gone/4"


def test_root_start_for_an_unknown_definition_is_still_rejected() -> None:
    f = flow([])
    start = cmd.StartWorkflow(workflow_id="w", at=T0, actor="api:x", name="gone")
    rejected = f.when(start)
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.UNKNOWN_DEFINITION


def test_terminating_the_parent_terminates_the_open_child() -> None:
    f = _parent()
    child_id = f.task("sub").child_workflow_id
    f.accept(cmd.TerminateWorkflow(workflow_id="wf-1", at=T0 + 5, actor="api:ops", reason="stop"))
    assert f.task("sub").status is TaskStatus.CANCELED
    [terminate] = f.emitted(cmd.TerminateWorkflow)
    assert terminate.workflow_id == child_id and terminate.root == "wf-1"


def _failed_parent() -> Flow:
    f = _parent()
    f.child_finished("sub", WorkflowStatus.FAILED, reason="boom")
    assert f.st.status is WorkflowStatus.FAILED
    return f


def test_retry_resuming_sub_workflow_tasks_reopens_the_task_and_retries_the_child() -> None:
    f = _failed_parent()
    before = f.task("sub")
    f.accept(
        cmd.RetryWorkflow(
            workflow_id="wf-1", at=T0 + 9, actor="api:x", resume_subworkflow_tasks=True
        )
    )
    sub = f.task("sub")
    assert sub.task_id == before.task_id and sub.status is TaskStatus.IN_PROGRESS
    assert sub.reason is None and f.st.open_count == 1
    assert f.emitted(cmd.StartWorkflow) == []
    [retry] = f.emitted(cmd.RetryWorkflow)
    assert retry.workflow_id == sub.child_workflow_id and retry.resume_subworkflow_tasks
    f.child_finished("sub", WorkflowStatus.COMPLETED, {"y": 2})
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_retry_without_resume_starts_a_new_child() -> None:
    f = _failed_parent()
    before = f.task("sub")
    f.accept(cmd.RetryWorkflow(workflow_id="wf-1", at=T0 + 9, actor="api:x"))
    sub = f.task("sub")
    assert sub.task_id != before.task_id
    [start] = f.emitted(cmd.StartWorkflow)
    assert start.workflow_id == sub.child_workflow_id != before.child_workflow_id


def test_resume_restates_the_child_start_of_an_open_task_only() -> None:
    f = _parent()
    starts = [e.command for e in resume(f.st) if isinstance(e, EmitCommand)]
    assert [s.workflow_id for s in starts] == [f.task("sub").child_workflow_id]
    f.child_finished("sub", WorkflowStatus.COMPLETED)
    assert [e for e in resume(f.st) if isinstance(e, EmitCommand)] == []
