"""WorkflowAndTaskConfigurationSpec: optional/permissive tasks, templates, timeouts, rerun,
skip, pause, WAIT time-out, callbackAfterSeconds, empty workflows, task definitions."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.defs import harness_task_def
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, status_is, task_status, tasks_n

SPEC = "WorkflowAndTaskConfigurationSpec"
WF1 = "simple_workflow_1_integration_test.json"
WF3 = "simple_workflow_3_integration_test.json"
INPUT = {"param1": "p1 value", "param2": "p2 value"}


def _newest(ref: str) -> Any:
    return lambda wf: [t for t in wf["tasks"] if t["referenceTaskName"] == ref][-1]


@case(SPEC, "Test simple workflow which has an optional task")
def optional_task(s: Session) -> None:
    s.task_defs("task_optional", "integration_task_2")
    s.workflows("simple_workflow_with_optional_task_integration_test.json")
    wid = s.start("optional_task_wf", INPUT)
    s.check("started", wid, tasks_n(1))
    s.fail("task_optional", "NETWORK ERROR")
    s.check("retry scheduled", wid, tasks_n(2))
    s.poll("task_optional", label="poll the retry, never answer")
    # task_optional times out after 5 s (timeoutSeconds, policy RETRY) with no retries left
    s.check("timed out: completed with errors", wid, tasks_n(3), wait_s=20, decide=True)
    s.complete("integration_task_2")
    s.check("completed", wid, status_is("COMPLETED"))


def _permissive(s: Session, resource: str, name: str, task: str, optional: bool) -> None:
    s.task_defs(task, "integration_task_2")
    s.workflows(resource)
    wid = s.start(name, INPUT)
    s.check("started", wid, tasks_n(1))
    s.fail(task, "NETWORK ERROR")
    s.check("retry scheduled", wid, tasks_n(2))
    if optional:
        s.poll(task, label="poll the retry, never answer")
        s.check("timed out: completed with errors", wid, tasks_n(3), wait_s=20, decide=True)
    else:
        s.fail(task, "NETWORK ERROR")
        s.check("failed again: next task scheduled", wid, tasks_n(3))
    s.complete("integration_task_2")
    s.check("ended", wid, status_is("COMPLETED", "FAILED"), wf=("reasonForIncompletion",))


@case(SPEC, "Test simple workflow which has a permissive task")
def permissive_task(s: Session) -> None:
    resource = "simple_workflow_with_permissive_task_integration_test.json"
    _permissive(s, resource, "permissive_task_wf", "task_permissive", optional=False)


@case(SPEC, "Test simple workflow which has a permissive optional task")
def permissive_optional_task(s: Session) -> None:
    resource = "simple_workflow_with_permissive_optional_task_integration_test.json"
    _permissive(s, resource, "permissive_optional_task_wf", "task_optional", optional=True)


@case(SPEC, "test workflow with input template parsing")
def input_template(s: Session) -> None:
    s.task_defs("integration_task_1")
    s.workflows("simple_workflow_1_input_template_integration_test.json")
    wid = s.start("integration_test_template_wf", {"param3": "external string"})
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("completed", wid, status_is("COMPLETED"), output=("*",), tasks=False)


@case(SPEC, "Test simple workflow with task time out configuration")
def task_timeout_retry(s: Session) -> None:
    s.task_defs(
        harness_task_def(
            "integration_task_1",
            retryCount=1,
            timeoutSeconds=1,
            responseTimeoutSeconds=1,
            retryDelaySeconds=0,
            timeoutPolicy="RETRY",
        ),
        "integration_task_2",
    )
    s.workflows(WF1)
    wid = s.start("integration_test_wf", {**INPUT, "failureWfName": "FanInOutTest"})
    s.check("started", wid, tasks_n(1))
    s.poll("integration_task_1", worker="task1.worker")
    s.check("timed out, retried", wid, tasks_n(2), wait_s=20, decide=True)
    s.poll("integration_task_1", worker="task1.worker")
    s.check(
        "timed out again: workflow timed out", wid, status_is("TIMED_OUT"), wait_s=20, decide=True
    )


def _timing_out(s: Session, complete_first: bool) -> str:
    s.task_defs("integration_task_1", "integration_task_2", "integration_task_3")
    # the spec's workflow timeout is 5 s; 3 s here
    s.workflows(s.workflow_def(WF3, timeoutPolicy="TIME_OUT_WF", timeoutSeconds=3))
    wid = s.start("integration_test_wf3", INPUT, correlation_id="retry_timeout_wf")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", worker="task1.worker")
    if complete_first:
        s.update(task, "COMPLETED")
    s.check(
        "workflow timed out",
        wid,
        status_is("TIMED_OUT"),
        extract=lambda wf: {"lastRetriedTime set": bool(wf.get("lastRetriedTime"))},
        wait_s=20,
        decide=True,
    )
    return wid


@case(SPEC, "Test workflow timeout configurations")
def workflow_timeout(s: Session) -> None:
    _timing_out(s, complete_first=False)


@case(SPEC, "Test retrying a timed out workflow due to workflow timeout")
def retry_timed_out_workflow(s: Session) -> None:
    wid = _timing_out(s, complete_first=False)
    s.operate("retry", s.client.retry(wid))
    s.check(
        "retried",
        wid,
        tasks_n(2, "RUNNING"),
        extract=lambda wf: {"lastRetriedTime set": bool(wf.get("lastRetriedTime"))},
    )


@case(SPEC, "Test retrying a timed out workflow due to workflow timeout without unsuccessful tasks")
def retry_timed_out_workflow_without_failed_tasks(s: Session) -> None:
    wid = _timing_out(s, complete_first=True)
    s.operate("retry", s.client.retry(wid))
    s.check(
        "retried",
        wid,
        status_is("RUNNING"),
        extract=lambda wf: {
            "lastRetriedTime set": bool(wf.get("lastRetriedTime")),
            "t1": wf["tasks"][0]["status"],
            "integration_task_2 scheduled": any(
                t["referenceTaskName"] == "t2" and t["status"] == "SCHEDULED" for t in wf["tasks"]
            ),
        },
        tasks=False,
    )


@case(SPEC, "Test re-running the simple workflow multiple times after completion")
def rerun_after_completion(s: Session) -> None:
    s.task_defs("integration_task_1", "integration_task_2")
    s.workflows(WF1)
    wid = s.start("integration_test_wf", INPUT, correlation_id="unit_test_1")
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("t1 completed", wid, tasks_n(2))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    wf = s.check("completed", wid, status_is("COMPLETED"), output=["o3"])
    t2_id = wf["tasks"][1]["taskId"] if len(wf["tasks"]) > 1 else "none"
    answer = s.client.rerun(wid, {"reRunFromWorkflowId": wid, "reRunFromTaskId": t2_id})
    s.operate("rerun from t2", answer)
    s.check("rerun from t2", wid, tasks_n(2, "RUNNING"))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed again", wid, status_is("COMPLETED"), output=["o3"])
    s.operate("rerun from the start", s.client.rerun(wid, {"reRunFromWorkflowId": wid}))
    s.check("rerun from the start", wid, tasks_n(1, "RUNNING"))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("t1 completed in the second rerun", wid, tasks_n(2))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed a third time", wid, status_is("COMPLETED"), output=["o3"])


@case(SPEC, "Test task skipping in simple workflows")
def skip_task(s: Session) -> None:
    s.task_defs("integration_task_1", "integration_task_2", "integration_task_3")
    s.workflows(WF3)
    wid = s.start("integration_test_wf3", INPUT)
    s.check("started", wid, tasks_n(1))
    s.operate("skip t2", s.client.skip_task(wid, "t2"))
    s.check("t2 skipped", wid, tasks_n(2))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("t1 completed: t3 next", wid, tasks_n(3))
    s.complete("integration_task_3")
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test pause and resume simple workflow")
def pause_and_resume(s: Session) -> None:
    s.task_defs("integration_task_1", "integration_task_2")
    s.workflows(WF1)
    wid = s.start("integration_test_wf", INPUT, correlation_id="unit_test_1")
    s.check("started", wid, tasks_n(1))
    s.operate("pause", s.client.pause(wid))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("paused, t1 completed", wid, task_status("t1", "COMPLETED"))
    s.poll_none("integration_task_2", "nothing to poll while paused")
    s.operate("resume", s.client.resume(wid))
    s.check("resumed", wid, tasks_n(2, "RUNNING"))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed", wid, status_is("COMPLETED"), output=["o3"])


@case(SPEC, "Test wait time out task based simple workflow")
def wait_task_timeout(s: Session) -> None:
    s.task_defs("waitTimeout", "integration_task_1")
    s.workflows("simple_wait_task_workflow_integration_test.json")
    wid = s.start("test_wait_timeout", {})
    s.check("started", wid, tasks_n(1))
    wf = s.check("WAIT timed out, retry scheduled", wid, tasks_n(2), wait_s=20, decide=True)
    wait = wf["tasks"][1] if len(wf["tasks"]) > 1 else None
    s.update(wait, "COMPLETED")
    s.check("WAIT completed", wid, tasks_n(3))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test simple workflow with callbackAfterSeconds for tasks")
def callback_after_seconds(s: Session) -> None:
    s.task_defs("integration_task_1", "integration_task_2")
    s.workflows(WF1)
    wid = s.start("integration_test_wf", INPUT, correlation_id="unit_test_1")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", worker="task1.worker")
    s.update(task, "IN_PROGRESS", callback_after_s=2)
    s.check("t1 back to SCHEDULED", wid, task_status("t1", "SCHEDULED"))
    s.poll_none("integration_task_1", "t1 not handed out before its callback", for_s=0.5)
    s.complete("integration_task_1", {"op": "task1.done"}, label="poll t1 after the callback")
    s.check("t1 completed", wid, tasks_n(2))
    task = s.poll("integration_task_2", worker="task2.worker")
    # the spec calls back after 5 s; 3 s here
    s.update(task, "IN_PROGRESS", callback_after_s=3)
    s.check("t2 back to SCHEDULED", wid, task_status("t2", "SCHEDULED"))
    s.poll_none("integration_task_2", "t2 not handed out before its callback", for_s=0.5)
    s.complete("integration_task_2", label="poll t2 after the callback")
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test workflow with no tasks")
def workflow_with_no_tasks(s: Session) -> None:
    empty = {"name": "empty_workflow", "schemaVersion": 2, "tasks": []}
    wid = s.start("empty_workflow", {}, correlation_id="empty_workflow", definition=empty)
    s.check("started", wid, status_is("COMPLETED"))


# The spec's template also has `vipStack: ${STACK2}`, a Java system property of its JVM.
@case(SPEC, "Test task def template")
def task_def_template(s: Session) -> None:
    body = {
        "inputPaths": ["${workflow.input.path1}", "${workflow.input.path2}"],
        "requestDetails": "${workflow.input.requestDetails}",
        "outputPath": "${workflow.input.outputPath}",
    }
    request = {"method": "GET", "uri": "/get/something", "body": body}
    s.task_defs({"name": "templated_task", "inputTemplate": {"http_request": request}})
    task = {"name": "templated_task", "type": "SIMPLE", "taskReferenceName": "t0"}
    s.workflows({"name": "template_workflow", "schemaVersion": 2, "tasks": [task]})
    workflow_input = {
        "path1": "file://path1",
        "path2": "file://path2",
        "outputPath": "s3://bucket/outputPath",
        "requestDetails": {"key1": "value1", "key2": 42},
    }
    wid = s.start("template_workflow", workflow_input, correlation_id="workflow_taskdef_template")
    s.check("started", wid, tasks_n(1), task_data={"t0": {"input": ["http_request"]}})


@case(SPEC, "Test task def created if not exist")
def task_def_created_if_not_exist(s: Session) -> None:
    task = {"name": "task_not_registered", "type": "SIMPLE", "taskReferenceName": "t0"}
    s.workflows({"name": "test_workflow", "schemaVersion": 2, "tasks": [task]})
    wid = s.start("test_workflow", {}, correlation_id="workflow_taskdef_not_registered")
    s.check("started", wid, tasks_n(1), task_fields=("taskDefName",))
