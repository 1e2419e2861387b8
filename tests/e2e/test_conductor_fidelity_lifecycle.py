"""Issue #16 on the real stack, over REST with HTTP polling: lifecycle and timing of tasks and
workflows. Each test follows a Conductor test-harness spec and what the real Conductor OSS
3.32.3 server gives for the same definition, polled over HTTP the same way (its timings differ:
its sweeper acts every ~30 s, our timers at the deadline).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conductor_fidelity_support import Conductor, status_is, tasks_of

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def _switch(c: Conductor, kind: str, **fields: object) -> dict[str, object]:
    return {
        "name": kind.lower(),
        "taskReferenceName": kind.lower(),
        "type": kind,
        "inputParameters": {"k": "${workflow.input.k}"},
        "decisionCases": {"a": [{"name": c.name("sw_t1"), "taskReferenceName": "t1"}]},
        "defaultCase": [{"name": c.name("sw_t2"), "taskReferenceName": "t2"}],
        **fields,
    }


def test_switch_task_spec_completes_switch_with_selected_case(conductor: Conductor) -> None:
    c = conductor
    defs = [c.task_def("sw_t1"), c.task_def("sw_t2"), c.task_def("sw_t3")]
    switch = _switch(c, "SWITCH", evaluatorType="value-param", expression="k")
    after = {"name": c.name("sw_t3"), "taskReferenceName": "t3"}
    c.register({"name": c.name("switch"), "tasks": [switch, after]}, defs)
    wid = c.start(c.name("switch"), {"k": "a"})

    running = c.until(wid, lambda w: len(w["tasks"]) == 2)
    assert tasks_of(running, "referenceTaskName", "status") == [
        ("switch", "COMPLETED"),
        ("t1", "SCHEDULED"),
    ]
    sw = running["tasks"][0]
    assert sw["outputData"] == {"evaluationResult": ["a"], "selectedCase": "a"}
    assert sw["inputData"] == {"k": "a", "case": "a", "hasChildren": "true"}
    c.update(c.poll_until(c.name("sw_t1")), output={"x": 1})
    c.until(wid, lambda w: len(w["tasks"]) == 3)
    c.update(c.poll_until(c.name("sw_t3")))
    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    assert tasks_of(done) == [("switch", "COMPLETED"), ("t1", "COMPLETED"), ("t3", "COMPLETED")]


def test_decision_task_spec_completes_decision_with_its_case_output(conductor: Conductor) -> None:
    c = conductor
    decision = _switch(c, "DECISION", caseValueParam="k")
    c.register({"name": c.name("decision"), "tasks": [decision]}, [c.task_def("sw_t1")])
    wid = c.start(c.name("decision"), {"k": "a"})
    running = c.until(wid, lambda w: len(w["tasks"]) == 2)
    d = running["tasks"][0]
    assert (d["status"], d["outputData"]) == ("COMPLETED", {"caseOutput": ["a"]})
    assert d["inputData"] == {"case": "a", "hasChildren": "true"}  # as DecisionTaskMapper
    nothing = c.start(c.name("decision"), {"k": "zz"})  # no case, a default with tasks
    assert c.until(nothing, lambda w: len(w["tasks"]) == 2)["tasks"][1]["referenceTaskName"] == "t2"


def test_workflow_and_task_configuration_spec_callback_after_seconds(conductor: Conductor) -> None:
    """ "Test simple workflow with callbackAfterSeconds for tasks": IN_PROGRESS with a callback
    puts the task back to SCHEDULED; it is not handed out before the callback, and no response
    timeout runs while it waits (responseTimeoutSeconds 2 < the wait here)."""
    c = conductor
    a = c.name("cb_a")
    c.register(
        {"name": c.name("callback"), "tasks": [{"name": a, "taskReferenceName": "a"}]},
        [c.task_def("cb_a", responseTimeoutSeconds=2, retryCount=1, retryDelaySeconds=0)],
    )
    wid = c.start(c.name("callback"))
    first = c.poll_until(a)
    c.update(first, "IN_PROGRESS", {"p": 1}, callbackAfterSeconds=3)
    reported = time.monotonic()
    # the read model may still show the task as first scheduled (pollCount 0): wait for the
    # projection of the report, which put it back to SCHEDULED after one poll
    waiting = c.until(
        wid, lambda w: w["tasks"][0]["status"] == "SCHEDULED" and w["tasks"][0]["pollCount"] > 0
    )
    task = waiting["tasks"][0]
    assert (task["callbackAfterSeconds"], task["pollCount"], task["outputData"]) == (3, 1, {"p": 1})
    assert c.poll(a) is None  # not before the callback

    time.sleep(max(0.0, reported + 6 - time.monotonic()))  # callback 3 s + response timeout 2 s
    still = c.workflow(wid)
    assert tasks_of(still, "referenceTaskName", "status", "retryCount") == [("a", "SCHEDULED", 0)]
    again = c.poll_until(a)
    assert (again["taskId"], again["pollCount"], again["callbackAfterSeconds"]) == (
        first["taskId"], 2, 0
    )  # fmt: skip
    c.update(again, output={"p": 2})
    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    assert tasks_of(done, "referenceTaskName", "status", "pollCount") == [("a", "COMPLETED", 2)]


def test_conductor_extend_lease_keeps_the_task_in_progress(conductor: Conductor) -> None:
    c = conductor
    a = c.name("lease_a")
    c.register(
        {"name": c.name("lease"), "tasks": [{"name": a, "taskReferenceName": "a"}]},
        [c.task_def("lease_a", responseTimeoutSeconds=2)],
    )
    wid = c.start(c.name("lease"))
    task = c.poll_until(a)
    for _ in range(3):  # 3 s in all, past the response timeout, kept alive by the leases
        time.sleep(1)
        c.update(task, "IN_PROGRESS", {"ignored": True}, extendLease=True)
    running = c.workflow(wid)
    assert tasks_of(running, "referenceTaskName", "status", "outputData") == [
        ("a", "IN_PROGRESS", {})
    ]
    c.update(task)
    assert c.until(wid, status_is("COMPLETED", "FAILED"))["status"] == "COMPLETED"


def test_workflow_and_task_configuration_spec_retrying_a_timed_out_workflow(
    conductor: Conductor,
) -> None:
    """ "Test retrying a timed out workflow due to workflow timeout": the retry restarts the
    workflow's timeout clock (Conductor: from lastRetriedTime)."""
    c = conductor
    c.register(
        {
            "name": c.name("wto"),
            "timeoutSeconds": 2,
            "timeoutPolicy": "TIME_OUT_WF",
            "tasks": [{"name": c.name("wto_a"), "taskReferenceName": "a"}],
        },
        [c.task_def("wto_a")],
    )
    wid = c.start(c.name("wto"))
    timed_out = c.until(wid, status_is("TIMED_OUT"), timeout_s=10)
    assert tasks_of(timed_out) == [("a", "CANCELED")]
    time.sleep(1)  # past the first deadline by a while

    c.retry(wid)
    retried_at = time.monotonic()
    running = c.until(wid, lambda w: len(w["tasks"]) == 2)
    assert running["status"] == "RUNNING"
    assert running["lastRetriedTime"] > timed_out["endTime"]  # Conductor's lastRetriedTime
    assert tasks_of(running, "referenceTaskName", "status", "retryCount") == [
        ("a", "CANCELED", 0),
        ("a", "SCHEDULED", 1),
    ]
    again = c.until(wid, status_is("TIMED_OUT"), timeout_s=10)
    assert time.monotonic() - retried_at >= 1.5  # 2 s after the retry, not at once
    assert again["endTime"] - running["updateTime"] >= 1900
    assert tasks_of(again) == [("a", "CANCELED"), ("a", "CANCELED")]


def test_sub_workflow_spec_retrying_a_subworkflow_where_parent_workflow_timed_out(
    conductor: Conductor,
) -> None:
    """ "Test retrying a subworkflow where parent workflow timed out due to workflowTimeout"."""
    c = conductor
    ct = c.name("sub_ct")
    c.register(
        {"name": c.name("child"), "tasks": [{"name": ct, "taskReferenceName": "ct"}]},
        [c.task_def("sub_ct")],
    )
    sub = {
        "name": "sub",
        "taskReferenceName": "sub",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": c.name("child"), "version": 1},
    }
    c.register(
        {
            "name": c.name("parent"),
            "timeoutSeconds": 3,
            "timeoutPolicy": "TIME_OUT_WF",
            "tasks": [sub],
        }
    )
    wid = c.start(c.name("parent"))
    parent = c.until(wid, status_is("TIMED_OUT"), timeout_s=15)
    assert tasks_of(parent) == [("sub", "CANCELED")]
    child_id = parent["tasks"][0]["subWorkflowId"]
    child = c.until(child_id, status_is("TERMINATED"))
    assert tasks_of(child) == [("ct", "CANCELED")]

    c.retry(child_id)
    revived = c.until(wid, status_is("RUNNING"))
    assert revived["lastRetriedTime"] > 0  # the parent counts as retried, as in Conductor
    assert tasks_of(revived, "referenceTaskName", "status", "taskId") == [
        ("sub", "IN_PROGRESS", parent["tasks"][0]["taskId"])  # in place
    ]
    c.update(c.poll_until(ct), output={"op": "done"})
    done = c.until(wid, status_is("COMPLETED", "FAILED", "TIMED_OUT"))
    assert done["status"] == "COMPLETED"
    assert done["output"] == {"subWorkflowId": child_id, "op": "done"}
    assert tasks_of(c.workflow(child_id)) == [("ct", "CANCELED"), ("ct", "COMPLETED")]


def test_workflow_and_task_configuration_spec_wait_time_out_task(conductor: Conductor) -> None:
    """ "Test wait time out task based simple workflow": a WAIT whose TaskDef has a 2 s timeout
    times out and is retried (SCHEDULED during its 10 s retry delay); the retry is completed
    over the task API."""
    c = conductor
    wait = c.name("waitTimeout")
    defs = [
        c.task_def("waitTimeout", timeoutSeconds=2, responseTimeoutSeconds=2, retryCount=1,
                   timeoutPolicy="RETRY", retryDelaySeconds=10),
        c.task_def("wt_t1"),
    ]  # fmt: skip
    tasks = [
        {"name": wait, "taskReferenceName": "wait0", "type": "WAIT"},
        {"name": c.name("wt_t1"), "taskReferenceName": "t1"},
    ]
    c.register({"name": c.name("waitto"), "tasks": tasks}, defs)
    wid = c.start(c.name("waitto"))
    assert tasks_of(c.until(wid, lambda w: len(w["tasks"]) == 1)) == [("wait0", "IN_PROGRESS")]

    retried = c.until(wid, lambda w: len(w["tasks"]) == 2, timeout_s=10)
    assert tasks_of(retried, "referenceTaskName", "status", "retryCount") == [
        ("wait0", "TIMED_OUT", 0),
        ("wait0", "SCHEDULED", 1),
    ]
    assert retried["tasks"][1]["callbackAfterSeconds"] == 10  # the real server: the delay
    # (the real server says "after 30 seconds": its sweeper's period; our timer is exact)
    assert retried["tasks"][0]["reasonForIncompletion"] == (
        "Task timed out after 2 seconds. Timeout configured as 2 seconds. "
        "Timeout policy configured to RETRY"
    )
    c.update(retried["tasks"][1])  # complete the SCHEDULED retry, as the spec does
    c.update(c.poll_until(c.name("wt_t1")))
    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    assert tasks_of(done) == [
        ("wait0", "TIMED_OUT"),
        ("wait0", "COMPLETED"),
        ("t1", "COMPLETED"),
    ]


def test_retry_policy_a_retried_task_shows_its_retry_delay(conductor: Conductor) -> None:
    c = conductor
    a = c.name("rd_a")
    c.register(
        {"name": c.name("rdelay"), "tasks": [{"name": a, "taskReferenceName": "a"}]},
        [c.task_def("rd_a", retryCount=1, retryDelaySeconds=2)],
    )
    wid = c.start(c.name("rdelay"))
    c.update(c.poll_until(a), "FAILED", reasonForIncompletion="x")
    retried = c.until(wid, lambda w: len(w["tasks"]) == 2)
    fields = ("status", "retryCount", "callbackAfterSeconds", "startDelayInSeconds")
    assert tasks_of(retried, *fields) == [("FAILED", 0, 0, 0), ("SCHEDULED", 1, 2, 2)]
    again = c.poll_until(a)
    assert (again["retryCount"], again["callbackAfterSeconds"], again["startDelayInSeconds"]) == (
        1, 0, 2
    )  # fmt: skip
    c.update(again)
    assert c.until(wid, status_is("COMPLETED", "FAILED"))["status"] == "COMPLETED"
