"""TaskLimitsWorkflowSpec: rate-limited and concurrency-limited worker tasks, seen by a polling
worker. The rate-limited one is heavy: the real Conductor offers the held-back task again
about a minute later."""

from __future__ import annotations

from tests.conductor_spec.defs import harness_task_def
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, status_is, tasks_n

SPEC = "TaskLimitsWorkflowSpec"
LONG = 90.0


@case(SPEC, "Verify that the rate limiting for simple tasks is honored", heavy=True)
def rate_limited_simple_task(s: Session) -> None:
    task = "test_simple_task_with_rateLimits"
    # 1 task per 10 s in the harness; per 3 s here
    s.task_defs(harness_task_def(task, rateLimitFrequencyInSeconds=3))
    s.workflows("rate_limited_simple_task_workflow_integration_test.json")
    first = s.start("test_rate_limit_simple_task_workflow", {})
    s.check("first started", first, tasks_n(1))
    s.complete(task, worker="rate.limit.test.worker")
    s.check("first completed", first, status_is("COMPLETED"))
    second = s.start("test_rate_limit_simple_task_workflow", {})
    s.check("second started", second, tasks_n(1))
    s.poll_none(task, "held back within the window", for_s=1.0, worker="rate.limit.test.worker")
    s.complete(task, worker="rate.limit.test.worker", wait_s=LONG, label="after the window")
    s.check("second completed", second, status_is("COMPLETED"))


@case(
    SPEC, "Verify that concurrency limited tasks are honored during workflow execution", heavy=True
)
def concurrency_limited_task(s: Session) -> None:
    task = "test_task_with_concurrency_limit"
    s.task_defs(task)
    s.workflows("concurrency_limited_task_workflow_integration_test.json")
    first = s.start("test_concurrency_limits_workflow", {})
    s.check("first started", first, tasks_n(1))
    polled = s.poll(task, worker="test_task_worker")
    second = s.start("test_concurrency_limits_workflow", {})
    s.check("second started", second, tasks_n(1))
    s.poll_none(task, "held back while one is in progress", for_s=1.0, worker="test_task_worker")
    s.update(polled, "COMPLETED")
    s.check("first completed", first, status_is("COMPLETED"))
    s.complete(task, worker="test_task_worker", wait_s=LONG, label="after the first completed")
    s.check("second completed", second, status_is("COMPLETED"))
