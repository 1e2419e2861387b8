"""SimpleWorkflowSpec: a two-task workflow (integration_test_wf, RTOWF) through its life."""

from __future__ import annotations

from tests.conductor_spec.defs import harness_task_def
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, status_is, task_status, tasks_n

SPEC = "SimpleWorkflowSpec"
WF = "integration_test_wf"
WF_FILE = "simple_workflow_1_integration_test.json"
INPUT = {"param1": "p1 value", "param2": "p2 value"}


def _setup(s: Session, **task1: object) -> None:
    s.task_defs(harness_task_def("integration_task_1", **task1), "integration_task_2")
    s.workflows(WF_FILE)


@case(SPEC, "Test simple workflow completion")
def simple_workflow_completion(s: Session) -> None:
    _setup(s)
    wid = s.start(WF, INPUT, correlation_id="unit_test_1")
    s.check("started", wid, tasks_n(1))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("t1 completed", wid, tasks_n(2))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed", wid, status_is("COMPLETED"), extract=lambda wf: "o3" in wf["output"])


@case(SPEC, "Test simple workflow with null inputs")
def null_inputs(s: Session) -> None:
    _setup(s)
    wid = s.start(WF, {"param1": "p1 value", "param2": None}, correlation_id="unit_test_1")
    s.check(
        "started",
        wid,
        tasks_n(1),
        extract=lambda wf: {
            "param2": wf["input"].get("param2", "<absent>"),
            "t1.someNullKey": wf["tasks"][0]["inputData"].get("someNullKey"),
        },
    )
    s.complete("integration_task_1", {"someOtherKey": {"a": 1, "A": None}, "someKey": None})
    s.check(
        "t1 completed",
        wid,
        tasks_n(2),
        extract=lambda wf: {
            "someKey present": "someKey" in wf["tasks"][0]["outputData"],
            "someKey": wf["tasks"][0]["outputData"].get("someKey"),
            "someOtherKey.A present": "A" in wf["tasks"][0]["outputData"]["someOtherKey"],
        },
    )


@case(SPEC, "Test simple workflow terminal error condition")
def terminal_error_condition(s: Session) -> None:
    s.task_defs(harness_task_def("integration_task_1", retryCount=1), "integration_task_2")
    wf = s.workflow_def(WF_FILE)
    wf["outputParameters"]["validationErrors"] = "${t1.output.ErrorMessage}"
    s.workflows(wf)
    wid = s.start(WF, INPUT, correlation_id="unit_test_1")
    s.check("started", wid, tasks_n(1))
    s.operate("restart a running workflow", s.client.restart(wid))
    task = s.poll("integration_task_1")
    s.update(
        task,
        "FAILED_WITH_TERMINAL_ERROR",
        {
            "TERMINAL_ERROR": "Integration endpoint down: FOOBAR",
            "ErrorMessage": "There was a terminal error",
        },
        reason="NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down",
    )
    s.check(
        "failed",
        wid,
        status_is("FAILED"),
        wf=("reasonForIncompletion", "failedReferenceTaskNames", "failedTaskNames"),
        output=("o1", "validationErrors"),
        task_fields=("retryCount",),
    )


@case(SPEC, "Test Simple Workflow with response timeout", heavy=True)
def response_timeout(s: Session) -> None:
    # task_rt's responseTimeoutSeconds is 10 in the harness; 3 here to keep the run short.
    s.task_defs(harness_task_def("task_rt", responseTimeoutSeconds=3), "integration_task_2")
    s.workflows("simple_workflow_with_resp_time_out_integration_test.json")
    wid = s.start("RTOWF", INPUT, correlation_id="unit_test_1")
    s.check("started", wid, tasks_n(1))
    s.poll("task_rt", label="poll task_rt (acked)")
    s.poll_none("task_rt", "no second task_rt")
    s.check("response timed out", wid, tasks_n(2), wait_s=45, decide=True)
    task = s.poll("task_rt", label="poll task_rt try 2")
    s.update(task, "IN_PROGRESS", callback_after_s=2)
    s.check("back in the queue after a callback", wid, task_status("t1", "SCHEDULED"))
    s.complete("task_rt", {"op": "task1.done"}, label="poll task_rt try 3")
    s.complete("integration_task_2")
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test if the workflow definitions with and without schema version can be registered")
def schema_version_default(s: Session) -> None:
    s.task_defs("integration_task_1")
    task = {"name": "integration_task_1", "taskReferenceName": "t1"}
    s.workflows(
        {"name": "Test_schema_version1", "version": 1, "tasks": [task]},
        {"name": "Test_schema_version2", "version": 1, "schemaVersion": 2, "tasks": [task]},
    )
    for name in ("Test_schema_version1", "Test_schema_version2"):
        answer = s.client.get_workflow_def(s.name(name), 1)
        body = answer.body if isinstance(answer.body, dict) else {}
        s.note(f"{name} schemaVersion", body.get("schemaVersion", f"<{answer.code}>"))


def _fail_then_restart(s: Session, wid: str) -> None:
    s.check("started", wid, tasks_n(1))
    s.fail("integration_task_1", "failed..")
    s.check("failed", wid, status_is("FAILED"))


@case(SPEC, "Test Simple workflow restart without using the latest definition")
def restart_without_latest_definition(s: Session) -> None:
    _setup(s, retryCount=0)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    _fail_then_restart(s, wid)
    s.operate("restart", s.client.restart(wid, use_latest=False))
    s.check("restarted", wid, status_is("RUNNING"))
    s.complete("integration_task_1")
    s.check("t1 completed", wid, task_status("t1", "COMPLETED"))
    s.complete("integration_task_2")
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test Simple workflow restart with the latest definition")
def restart_with_latest_definition(s: Session) -> None:
    s.task_defs(
        harness_task_def("integration_task_1", retryCount=0),
        "integration_task_2",
        "integration_task_20",
    )
    (_wf,) = s.workflows(WF_FILE)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    _fail_then_restart(s, wid)
    v2 = s.workflow_def(WF_FILE, version=2)
    v2["tasks"].append(
        {"name": "integration_task_20", "taskReferenceName": "task_added", "type": "SIMPLE"}
    )
    s.workflows(v2)
    s.operate("restart with the latest definition", s.client.restart(wid, use_latest=True))
    s.check("restarted", wid, status_is("RUNNING"))
    s.complete("integration_task_1")
    s.check("t1 completed", wid, task_status("t1", "COMPLETED"))
    s.complete("integration_task_2")
    s.check("t2 completed", wid, task_status("t2", "COMPLETED"))
    s.complete("integration_task_20")
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test simple workflow with task retries")
def task_retries(s: Session) -> None:
    s.task_defs(
        "integration_task_1",
        harness_task_def("integration_task_2", retryCount=3, retryDelaySeconds=2),
    )
    s.workflows(WF_FILE)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", inputs=["p1", "p2"])
    op = "task1.output -> p1 value.p2 value"
    s.update(task, "COMPLETED", {"op": op})
    s.fail("integration_task_2", "failure...0", inputs=["tp1", "tp2"], wait_s=20)
    s.fail("integration_task_2", "failure...0", inputs=["tp1", "tp2"], wait_s=20)
    s.complete("integration_task_2", inputs=["tp1", "tp2"], wait_s=20)
    s.check(
        "completed",
        wid,
        status_is("COMPLETED"),
        wf=("failedReferenceTaskNames", "failedTaskNames"),
        task_fields=("retriedTaskId",),
    )


def _p3_is_task_id(wf: dict) -> bool:
    """The spec's check that ${CPEWF_TASK_ID} is the id of the newest task."""
    return bool(wf["tasks"][-1]["inputData"].get("p3") == wf["tasks"][-1]["taskId"])


@case(SPEC, "Test simple workflow with retry at workflow level")
def retry_at_workflow_level(s: Session) -> None:
    _setup(s, retryCount=1, retryDelaySeconds=0)
    wid = s.start(WF, INPUT, correlation_id="retry_test")
    s.check("started", wid, tasks_n(1), extract=_p3_is_task_id)
    s.fail("integration_task_1", "failure...0")
    s.check("t1 failed once", wid, tasks_n(2), extract=_p3_is_task_id)
    s.fail("integration_task_1", "failure...0")
    s.check("failed", wid, status_is("FAILED"))
    s.operate("retry", s.client.retry(wid))
    s.check("retried", wid, tasks_n(3, "RUNNING"), extract=_p3_is_task_id)
    s.complete("integration_task_1")
    s.check("t1 completed", wid, tasks_n(4))
    s.complete("integration_task_2")
    s.check(
        "completed",
        wid,
        status_is("COMPLETED"),
        wf=("failedReferenceTaskNames", "failedTaskNames"),
    )


@case(SPEC, "Test Long running simple workflow")
def long_running_callback(s: Session) -> None:
    _setup(s)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", inputs=["p1", "p2"])
    # The spec calls back after 5 s; 2 s here.
    s.update(task, "IN_PROGRESS", {"op": "task1.in.progress"}, callback_after_s=2)
    s.poll_none("integration_task_1", "not handed out again before the callback", for_s=0.8)
    s.complete("integration_task_1", {"op": "task1.done"}, label="poll after the callback")
    s.check("t1 completed", wid, tasks_n(2), task_data={"t1": {"output": ["op"]}})
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test simple workflow when the task's call back after seconds are reset")
def reset_callbacks(s: Session) -> None:
    _setup(s)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", inputs=["p1", "p2"])
    s.update(task, "IN_PROGRESS", {"op": "task1.in.progress"}, callback_after_s=3600)
    s.poll_none("integration_task_1", "not handed out during the callback")
    s.operate("reset callbacks", s.client.reset_callbacks(wid))
    s.complete("integration_task_1", {"op": "task1.done"}, label="poll after the reset")
    s.check("t1 completed", wid, tasks_n(2), task_data={"t1": {"output": ["op"]}})
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed", wid, status_is("COMPLETED"))


@case(SPEC, "Test non restartable simple workflow")
def non_restartable(s: Session) -> None:
    s.task_defs(harness_task_def("integration_task_1", retryCount=0), "integration_task_2")
    s.workflows(
        s.workflow_def(WF_FILE, name="integration_test_wf_non_restartable", restartable=False)
    )
    wid = s.start("integration_test_wf_non_restartable", INPUT, correlation_id="integration_test_1")
    s.fail("integration_task_1", "failure...0")
    s.check("failed", wid, status_is("FAILED"))
    s.operate("restart the failed workflow", s.client.restart(wid))
    s.complete("integration_task_1", {"op": "task1.done"})
    s.check("t1 completed", wid, tasks_n(2))
    s.complete("integration_task_2", inputs=["tp1", "tp2"])
    s.check("completed", wid, status_is("COMPLETED"), output=["o3"])
    s.operate("restart the completed non-restartable workflow", s.client.restart(wid))


@case(SPEC, "Test simple workflow when update task's result with call back after seconds")
def in_progress_without_callback(s: Session) -> None:
    _setup(s)
    wid = s.start(WF, INPUT, correlation_id="integration_test_1")
    s.check("started", wid, tasks_n(1))
    task = s.poll("integration_task_1", inputs=["p1", "p2"])
    s.update(task, "IN_PROGRESS", {"op": "task1.in.progress"})
    s.check(
        "back to SCHEDULED",
        wid,
        task_status("t1", "SCHEDULED"),
        task_fields=("callbackAfterSeconds",),
    )
    task = s.poll("integration_task_1", label="poll again")
    s.update(task, "IN_PROGRESS", {"op": "task1.in.progress"}, callback_after_s=3600)
    s.check(
        "SCHEDULED with a callback",
        wid,
        task_status("t1", "SCHEDULED"),
        task_fields=("callbackAfterSeconds",),
    )
    s.poll_none("integration_task_1", "not handed out during the callback")
