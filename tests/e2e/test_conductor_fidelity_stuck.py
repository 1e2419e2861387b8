"""Issue #16 on the real stack, over REST with HTTP polling: what used to leave a workflow
stuck. Each test follows a Conductor test-harness spec and the task list the real Conductor OSS
3.32.3 server gives for the same definition (polled over HTTP the same way).
"""

from __future__ import annotations

import pytest

from tests.e2e.conductor_fidelity_support import (
    Conductor,
    start_sdk_worker,
    status_is,
    tasks_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def test_terminate_task_spec_wraps_a_workflow_output_that_is_not_a_map(
    conductor: Conductor,
) -> None:
    c = conductor
    t1 = c.name("term_t1")
    c.register(
        {
            "name": c.name("term"),
            "tasks": [
                {"name": t1, "taskReferenceName": "t1", "type": "SIMPLE"},
                {
                    "name": "term",
                    "taskReferenceName": "term",
                    "type": "TERMINATE",
                    "inputParameters": {
                        "terminationStatus": "COMPLETED",
                        "workflowOutput": "${t1.output.op}",
                    },
                },
            ],
            "outputParameters": {"o": "${t1.output.op}"},
        },
        [c.task_def("term_t1")],
    )
    wid = c.start(c.name("term"))
    c.update(c.poll_until(t1), output={"op": "hello"})

    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    # The real server: COMPLETED, output {"output": "hello"} (the TERMINATE task's output).
    assert done["status"] == "COMPLETED"
    assert done["output"] == {"output": "hello"}
    assert tasks_of(done, "referenceTaskName", "status", "outputData") == [
        ("t1", "COMPLETED", {"op": "hello"}),
        ("term", "COMPLETED", {"output": "hello"}),
    ]
    assert done["tasks"][1]["inputData"]["workflowOutput"] == "hello"


def test_a_command_the_engine_fails_on_fails_its_workflow_with_the_reason(
    conductor: Conductor,
) -> None:
    """The processor's evaluator crashes on one expression (tests/e2e/faulty_processor.py):
    the report that leads to it used to be answered 200 and vanish into the dead letters."""
    c = conductor
    t1 = c.name("crash_t1")
    c.register(
        {
            "name": c.name("crash"),
            "tasks": [
                {"name": t1, "taskReferenceName": "t1", "type": "SIMPLE"},
                {
                    "name": "js",
                    "taskReferenceName": "js",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "'injected engine bug'",
                    },
                },
            ],
        },
        [c.task_def("crash_t1")],
    )
    wid = c.start(c.name("crash"))
    c.update(c.poll_until(t1), output={"op": 1})

    failed = c.until(wid, status_is("FAILED", "COMPLETED"))
    assert failed["status"] == "FAILED"
    assert failed["reasonForIncompletion"] == (
        "engine error on ReportTaskResult: RuntimeError: injected engine bug"
    )
    # The failure cancels what was open, as any failure: a retry runs t1 again.
    assert tasks_of(failed) == [("t1", "CANCELED")]


def test_fork_join_spec_retrying_a_failed_fork_join_workflow(conductor: Conductor) -> None:
    """ForkJoinSpec "Test retrying a failed fork join workflow". The canceled branch task's
    dispatch is still in its queue when the workflow is retried: the poll must hand out the new
    attempt, never the canceled one."""
    c = conductor
    a, b, after = c.name("fj_a"), c.name("fj_b"), c.name("fj_c")
    c.register(
        {
            "name": c.name("forkretry"),
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": a, "taskReferenceName": "a", "type": "SIMPLE"}],
                        [{"name": b, "taskReferenceName": "b", "type": "SIMPLE"}],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
                {"name": after, "taskReferenceName": "c", "type": "SIMPLE"},
            ],
        },
        [c.task_def("fj_a"), c.task_def("fj_b"), c.task_def("fj_c")],
    )
    wid = c.start(c.name("forkretry"))
    c.update(c.poll_until(a), "FAILED", reasonForIncompletion="boom")
    failed = c.until(wid, status_is("FAILED"))
    fields = ("referenceTaskName", "status", "retryCount")
    assert tasks_of(failed, *fields) == [
        ("fork", "COMPLETED", 0),
        ("a", "FAILED", 0),
        ("b", "CANCELED", 0),
        ("join", "CANCELED", 0),
    ]
    join_id = failed["tasks"][3]["taskId"]

    c.retry(wid)
    retried = c.until(wid, lambda w: w["status"] == "RUNNING" and len(w["tasks"]) == 6)
    assert tasks_of(retried, *fields) == [  # the real server, task for task
        ("fork", "COMPLETED", 0),
        ("a", "FAILED", 0),
        ("b", "CANCELED", 0),
        ("join", "IN_PROGRESS", 0),
        ("a", "SCHEDULED", 1),
        ("b", "SCHEDULED", 1),
    ]
    assert retried["tasks"][3]["taskId"] == join_id  # reopened in place

    polled_b = c.poll_until(b)
    assert (polled_b["retryCount"], polled_b["taskId"]) == (1, retried["tasks"][5]["taskId"])
    polled_a = c.poll_until(a)
    assert polled_a["retryCount"] == 1
    c.update(polled_a, output={"r": "a"})
    c.update(polled_b, output={"r": "b"})
    c.update(c.poll_until(after))

    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED"
    assert tasks_of(done, *fields)[3] == ("join", "COMPLETED", 0)
    assert done["tasks"][3]["outputData"] == {"a": {"r": "a"}, "b": {"r": "b"}}


def test_do_while_spec_retrying_a_failed_do_while_workflow(conductor: Conductor) -> None:
    """DoWhileSpec "Test retrying a failed do while workflow": the loop reopens in place at
    its iteration; the DO_WHILE task's `iteration` field counts the iterations."""
    c = conductor
    a, after = c.name("dw_a"), c.name("dw_c")
    c.register(
        {
            "name": c.name("loopretry"),
            "tasks": [
                {
                    "name": "loop",
                    "taskReferenceName": "loop",
                    "type": "DO_WHILE",
                    "loopCondition": "if ($.loop['iteration'] < 2) { true; } else { false; }",
                    "loopOver": [{"name": a, "taskReferenceName": "a", "type": "SIMPLE"}],
                },
                {"name": after, "taskReferenceName": "c", "type": "SIMPLE"},
            ],
        },
        [c.task_def("dw_a"), c.task_def("dw_c")],
    )
    wid = c.start(c.name("loopretry"))
    first = c.poll_until(a)
    assert first["iteration"] == 1
    c.update(first, output={"n": 1})
    second = c.poll_until(a)
    assert second["iteration"] == 2
    running = c.until(wid, lambda w: w["tasks"][0]["iteration"] == 2)
    assert running["tasks"][0]["outputData"]["iteration"] == 2
    c.update(second, "FAILED", reasonForIncompletion="boom")
    failed = c.until(wid, status_is("FAILED"))
    fields = ("referenceTaskName", "status", "retryCount", "iteration")
    assert tasks_of(failed, *fields) == [
        ("loop", "CANCELED", 0, 2),
        ("a__1", "COMPLETED", 0, 1),
        ("a__2", "FAILED", 0, 2),
    ]

    c.retry(wid)
    retried = c.until(wid, lambda w: w["status"] == "RUNNING" and len(w["tasks"]) == 4)
    assert tasks_of(retried, *fields) == [  # the real server, task for task
        ("loop", "IN_PROGRESS", 0, 2),
        ("a__1", "COMPLETED", 0, 1),
        ("a__2", "FAILED", 0, 2),
        ("a__2", "SCHEDULED", 1, 2),
    ]
    again = c.poll_until(a)
    assert (again["referenceTaskName"], again["retryCount"]) == ("a__2", 1)
    c.update(again, output={"n": 2})
    c.update(c.poll_until(after))

    done = c.until(wid, status_is("COMPLETED", "FAILED"))
    assert done["status"] == "COMPLETED"
    loop = done["tasks"][0]
    assert (loop["status"], loop["iteration"]) == ("COMPLETED", 2)
    assert loop["outputData"] == {"iteration": 2, "1": {"a": {"n": 1}}, "2": {"a": {"n": 2}}}


def test_fork_join_spec_retry_with_a_kafka_sdk_worker_on_the_other_branch(
    conductor: Conductor,
) -> None:
    """The same retry with branch b served by a Kafka SDK worker started after it: it reads the
    canceled task's dispatch too (no read model at hand), and its result is rejected by the
    engine, harmlessly: the canceled attempt stays CANCELED and the new attempt completes."""
    c = conductor
    a, b = c.name("sdk_a"), c.name("sdk_b")
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [
            [{"name": a, "taskReferenceName": "a"}],
            [{"name": b, "taskReferenceName": "b"}],
        ],
    }
    join = {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]}
    c.register(
        {"name": c.name("sdkretry"), "tasks": [fork, join]},
        [c.task_def("sdk_a"), c.task_def("sdk_b")],
    )
    wid = c.start(c.name("sdkretry"))
    c.update(c.poll_until(a), "FAILED", reasonForIncompletion="boom")
    canceled_b = c.until(wid, status_is("FAILED"))["tasks"][2]
    assert (canceled_b["referenceTaskName"], canceled_b["status"]) == ("b", "CANCELED")

    c.retry(wid)
    c.until(wid, lambda w: w["status"] == "RUNNING" and len(w["tasks"]) == 6)
    ran = start_sdk_worker(c, b)
    c.update(c.poll_until(a))

    done = c.until(wid, status_is("COMPLETED", "FAILED"), timeout_s=60)
    assert done["status"] == "COMPLETED"
    fields = ("referenceTaskName", "status", "retryCount")
    assert tasks_of(done, *fields) == [
        ("fork", "COMPLETED", 0),
        ("a", "FAILED", 0),
        ("b", "CANCELED", 0),
        ("join", "COMPLETED", 0),
        ("a", "COMPLETED", 1),
        ("b", "COMPLETED", 1),
    ]
    assert done["tasks"][2]["outputData"] == {}  # the stale result changed nothing
    assert done["tasks"][5]["outputData"] == {"ran": done["tasks"][5]["taskId"]}
    # It did run the canceled attempt too (the SDK has no read model to drop it by):
    assert sorted(ran.read_text().split()) == sorted(
        [canceled_b["taskId"], done["tasks"][5]["taskId"]]
    )
