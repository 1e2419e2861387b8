"""SubWorkflowSpec: a workflow whose second task is a sub-workflow; time-outs, terminations and
retries across the two levels."""

from __future__ import annotations

from tests.conductor_spec.defs import harness_task_def, load_workflow
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, ended, status_is, task_status, tasks_n

SPEC = "SubWorkflowSpec"
PARENT = "workflow_with_sub_workflow_1_integration_test.json"
CHILD = "simple_one_task_sub_workflow_integration_test.json"


def _start(s: Session, child: str, correlation_id: str) -> tuple[str, str]:
    """Start the parent, complete its first task; answers (parent id, child id)."""
    workflow_input = {"param1": "p1 value", "param2": "p2 value", "subwf": s.name(child)}
    wid = s.start("integration_test_wf_with_sub_wf", workflow_input, correlation_id=correlation_id)
    s.check("started", wid, tasks_n(1))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("sub-workflow task in progress", wid, task_status("t2", "IN_PROGRESS"))
    child_id = s.child(wid, "t2")
    s.check("sub-workflow running", child_id, tasks_n(1))
    return wid, child_id


@case(SPEC, "Test retrying a subworkflow where parent workflow timed out due to workflowTimeout")
def retry_sub_workflow_after_parent_timed_out(s: Session) -> None:
    # the spec's workflow timeout is 10 s; 4 s here
    parent = load_workflow(PARENT) | {"timeoutPolicy": "TIME_OUT_WF", "timeoutSeconds": 4}
    s.workflows(CHILD, parent)
    wid, child = _start(s, "sub_workflow", "wf_with_subwf_test_1")
    s.check("parent timed out", wid, ended, wait_s=20, decide=True)
    s.check("sub-workflow terminated", child, ended)
    s.operate("retry the sub-workflow", s.client.retry(child))
    s.check("sub-workflow retried", child, tasks_n(2, "RUNNING"))
    s.check("parent resumed", wid, status_is("RUNNING"))
    s.complete("simple_task_in_sub_wf", {"op": "simple_task_in_sub_wf.done"})
    s.check("sub-workflow completed", child, status_is("COMPLETED"))
    s.check(
        "parent completed",
        wid,
        status_is("COMPLETED"),
        output=["op"],
        task_fields=("subworkflowChanged",),
        decide=True,
    )


@case(SPEC, "Test terminating a subworkflow terminates parent workflow")
def terminate_sub_workflow_terminates_parent(s: Session) -> None:
    s.workflows(CHILD, PARENT)
    wid, child = _start(s, "sub_workflow", "wf_with_subwf_test_1")
    reason = "terminating from a test case"
    s.operate("terminate the sub-workflow", s.client.terminate(child, reason))
    s.check("sub-workflow terminated", child, ended, wf=("reasonForIncompletion",))
    s.check(
        "parent terminated",
        wid,
        ended,
        decide=True,
        extract=lambda wf: reason in (wf.get("reasonForIncompletion") or ""),
    )


@case(SPEC, "Test retrying a workflow with subworkflow resume")
def retry_with_sub_workflow_resume(s: Session) -> None:
    s.task_defs(harness_task_def("integration_task_2", retryCount=0))
    s.workflows("simple_workflow_1_integration_test.json", PARENT)
    workflow_input = {
        "param1": "p1 value",
        "param2": "p2 value",
        "subwf": s.name("integration_test_wf"),
    }
    wid = s.start(
        "integration_test_wf_with_sub_wf", workflow_input, correlation_id="wf_retry_with_subwf"
    )
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("sub-workflow task in progress", wid, task_status("t2", "IN_PROGRESS"))
    child = s.child(wid, "t2")
    s.complete("integration_task_1", {"op": "task1.done"}, label="sub-workflow's t1")
    s.fail("integration_task_2", "failed")
    s.check("sub-workflow failed", child, ended)
    s.check("parent failed", wid, ended, decide=True)
    s.operate(
        "retry, resuming the sub-workflow", s.client.retry(wid, resume_subworkflow_tasks=True)
    )
    s.check("sub-workflow retried", child, tasks_n(3, "RUNNING"))
    s.check("parent running", wid, status_is("RUNNING"))
    s.complete("integration_task_2", {"op": "task2.done"})
    s.check("sub-workflow completed", child, status_is("COMPLETED"))
    s.check(
        "parent completed",
        wid,
        status_is("COMPLETED"),
        task_fields=("subworkflowChanged",),
        decide=True,
    )
