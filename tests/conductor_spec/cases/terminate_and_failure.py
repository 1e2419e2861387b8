"""LambdaAndTerminateTaskSpec and FailureWorkflowSpec: TERMINATE, LAMBDA, failure workflows."""

from __future__ import annotations

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, Workflow, ended, status_is, tasks_n

LAMBDA_SPEC = "LambdaAndTerminateTaskSpec"
FAILURE_SPEC = "FailureWorkflowSpec"
SEQ = ("seq",)
FAILURE_WF = "failure_workflow_for_terminate_task_workflow.json"


def _failure_workflow(s: Session, wf: Workflow, failed_ref: str) -> None:
    """The failure workflow a failed run started (output['conductor.failure_workflow']),
    as the spec sees it."""
    failed_id = (wf.get("output") or {}).get("conductor.failure_workflow")
    if not failed_id:
        s.note("failure workflow", "<no conductor.failure_workflow in the output>")
        return
    failed_task = [t for t in wf["tasks"] if t["referenceTaskName"] == failed_ref]
    task_id = failed_task[-1]["taskId"] if failed_task else None
    s.check(
        "failure workflow",
        str(failed_id),
        ended,
        extract=lambda f: {
            "correlationId matches": f.get("correlationId") == wf.get("correlationId"),
            "input.workflowId": f["input"].get("workflowId"),
            "input.failureTaskId is the failed task": f["input"].get("failureTaskId") == task_id,
            "input.failedWorkflow present": f["input"].get("failedWorkflow") is not None,
        },
    )


@case(LAMBDA_SPEC, "Test workflow with a terminate task when the status is completed")
def terminate_completed(s: Session) -> None:
    s.workflows(FAILURE_WF, "terminate_task_completed_workflow_integration_test.json")
    wid = s.start("test_terminate_task_wf", {"a": 1})
    s.check(
        "completed by TERMINATE",
        wid,
        ended,
        task_fields=SEQ,
        output=("*",),
        extract=lambda wf: (
            "Workflow is COMPLETED by TERMINATE task" in (wf.get("reasonForIncompletion") or "")
        ),
    )


def _terminate_failed(s: Session) -> tuple[str, Workflow]:
    s.workflows(FAILURE_WF, "terminate_task_failed_workflow_integration.json")
    wid = s.start("test_terminate_task_failed_wf", {"a": 1}, correlation_id="testId")
    wf = s.check(
        "failed by TERMINATE",
        wid,
        ended,
        wf=("reasonForIncompletion",),
        task_fields=SEQ,
        extract=lambda wf: "conductor.failure_workflow" in (wf.get("output") or {}),
    )
    return wid, wf


@case(LAMBDA_SPEC, "Test workflow with a terminate task when the status is failed")
def terminate_failed(s: Session) -> None:
    _wid, wf = _terminate_failed(s)
    _failure_workflow(s, wf, "terminate0")


@case(FAILURE_SPEC, "Test workflow with a task that failed")
def failure_workflow_after_terminate(s: Session) -> None:
    _wid, wf = _terminate_failed(s)
    _failure_workflow(s, wf, "terminate0")


@case(FAILURE_SPEC, "Test workflow with a task failed in subworkflow")
def failure_workflow_after_failed_sub_workflow(s: Session) -> None:
    s.workflows(
        FAILURE_WF,
        "test_task_failed_sub_workflow.json",
        "test_task_failed_parent_workflow.json",
    )
    wid = s.start("test_task_failed_parent_wf", {"a": 1})
    child = s.child(wid, "test_task_failed_sub_wf")
    s.check(
        "sub-workflow failed by TERMINATE",
        child,
        ended,
        task_fields=SEQ,
        extract=lambda wf: (
            "Workflow is FAILED by TERMINATE task" in (wf.get("reasonForIncompletion") or "")
        ),
    )
    wf = s.check(
        "parent failed",
        wid,
        lambda wf: ended(wf) and "conductor.failure_workflow" in (wf.get("output") or {}),
        task_fields=SEQ,
        wait_s=5,
    )
    _failure_workflow(s, wf, "test_task_failed_sub_wf")


@case(LAMBDA_SPEC, "Test workflow with a terminate task when the workflow has a subworkflow")
def terminate_with_sub_workflow(s: Session) -> None:
    s.workflows("terminate_task_sub_workflow.json", "terminate_task_parent_workflow.json")
    wid = s.start("test_terminate_task_parent_wf", {"a": 1})
    wf = s.check(
        "started",
        wid,
        lambda wf: len(wf["tasks"]) == 6 and wf["tasks"][4]["status"] == "IN_PROGRESS",
        task_fields=SEQ,
    )
    child = s.child(wid, "test_terminate_subworkflow")
    s.check("sub-workflow running", child, tasks_n(1))
    waiting = [t for t in wf["tasks"] if t["taskType"] == "WAIT"]
    s.update(waiting[0] if waiting else None, "COMPLETED")
    s.check(
        "completed by TERMINATE",
        wid,
        ended,
        task_fields=SEQ,
        extract=lambda wf: (
            "Workflow is COMPLETED by TERMINATE task" in (wf.get("reasonForIncompletion") or "")
        ),
    )
    s.check(
        "sub-workflow terminated",
        child,
        ended,
        extract=lambda wf: (
            "Parent workflow has been terminated with reason: Workflow is "
            "COMPLETED by TERMINATE task" in (wf.get("reasonForIncompletion") or "")
        ),
    )


@case(LAMBDA_SPEC, "Test workflow with a terminate task within a decision branch")
def terminate_in_decision_branch(s: Session) -> None:
    s.workflows("decision_and_terminate_integration_test.json")
    wid = s.start("ConditionalTerminateWorkflow", {"param1": "p1", "param2": "p2", "case": "two"})
    s.check("started", wid, tasks_n(1), task_fields=SEQ)
    s.complete("integration_task_1", {"op": "task1 completed"})
    s.check(
        "failed by TERMINATE",
        wid,
        ended,
        task_fields=SEQ,
        output=("*",),
        task_data={"t1": {"output": ["op"]}},
        extract=lambda wf: (
            "Workflow is FAILED by TERMINATE task" in (wf.get("reasonForIncompletion") or "")
        ),
    )


@case(LAMBDA_SPEC, "Test workflow with lambda task")
def lambda_task(s: Session) -> None:
    s.workflows("simple_lambda_workflow_integration_test.json")
    wid = s.start("test_lambda_wf", {"a": 1})
    s.check(
        "completed",
        wid,
        status_is("COMPLETED", "FAILED"),
        task_fields=SEQ,
        task_data={"lambda0": {"output": ["*"]}},
    )
