"""RetryPolicySpec: backoff caps, jitter, total time-out budgets. Over REST the rescheduled
task's callbackAfterSeconds is what a client sees (callbackAfterMs is internal)."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, Workflow, ended

SPEC = "RetryPolicySpec"
TASK = "retry_policy_task"
WF = {
    "name": "retry_policy_wf",
    "version": 1,
    "tasks": [{"name": TASK, "taskReferenceName": "retry_task_ref", "type": "SIMPLE"}],
    "ownerEmail": "test@example.com",
    "timeoutSeconds": 3600,
    "timeoutPolicy": "ALERT_ONLY",
}


def _setup(s: Session, **task_def: Any) -> str:
    s.task_defs({"name": TASK, "ownerEmail": "test@example.com", **task_def})
    s.workflows(WF)
    return s.start("retry_policy_wf", {}, correlation_id="retry-policy")


def _scheduled(n: int) -> Any:
    return lambda wf: len(wf["tasks"]) == n and wf["tasks"][-1]["status"] == "SCHEDULED"


def _callbacks(wf: Workflow) -> list[Any]:
    return [t.get("callbackAfterSeconds") for t in wf["tasks"] if t["status"] == "SCHEDULED"]


def _fail_twice(s: Session, wid: str) -> None:
    s.fail(TASK, "failed", worker="test-worker")
    s.check("first retry scheduled", wid, _scheduled(2), extract=_callbacks)
    # the spec polls again at once: the retry is handed out only after its delay
    s.fail(TASK, "failed", worker="test-worker", wait_s=15)
    s.check("second retry scheduled", wid, _scheduled(3), extract=_callbacks)


@case(SPEC, "Exponential backoff delay is capped by maxRetryDelaySeconds")
def exponential_backoff_capped(s: Session) -> None:
    wid = _setup(
        s,
        retryCount=5,
        retryDelaySeconds=2,
        retryLogic="EXPONENTIAL_BACKOFF",
        maxRetryDelaySeconds=3,
        timeoutSeconds=3600,
        responseTimeoutSeconds=3600,
    )
    _fail_twice(s, wid)


@case(SPEC, "Linear backoff delay is capped by maxRetryDelaySeconds")
def linear_backoff_capped(s: Session) -> None:
    wid = _setup(
        s,
        retryCount=5,
        retryDelaySeconds=2,
        retryLogic="LINEAR_BACKOFF",
        backoffScaleFactor=2,
        maxRetryDelaySeconds=5,
        timeoutSeconds=3600,
        responseTimeoutSeconds=3600,
    )
    _fail_twice(s, wid)


@case(SPEC, "backoffJitterMs adds a random offset in [0, maxJitterMs] to the retry delay")
def jitter_keeps_callback_seconds(s: Session) -> None:
    wid = _setup(
        s,
        retryCount=3,
        retryDelaySeconds=60,
        retryLogic="FIXED",
        backoffJitterMs=5000,
        timeoutSeconds=3600,
        responseTimeoutSeconds=3600,
    )
    s.fail(TASK, "failed", worker="test-worker")
    s.check("retry scheduled", wid, _scheduled(2), extract=_callbacks)


@case(SPEC, "totalTimeoutSeconds=0 is disabled — retries continue as normal")
def total_timeout_disabled(s: Session) -> None:
    wid = _setup(
        s,
        retryCount=5,
        retryDelaySeconds=0,
        retryLogic="FIXED",
        totalTimeoutSeconds=0,
        timeoutSeconds=3600,
        responseTimeoutSeconds=3600,
    )
    s.fail(TASK, "failed", worker="test-worker")
    s.check("retry scheduled", wid, _scheduled(2))


@case(SPEC, "totalTimeoutSeconds exceeded on retry — workflow fails with no further retries")
def total_timeout_exceeded_on_retry(s: Session) -> None:
    # The spec back-dates firstScheduledTime by 60 s; here the 2 s budget really passes.
    wid = _setup(
        s,
        retryCount=10,
        retryDelaySeconds=0,
        retryLogic="FIXED",
        totalTimeoutSeconds=2,
        timeoutSeconds=0,
        responseTimeoutSeconds=3600,
        timeoutPolicy="TIME_OUT_WF",
    )
    task = s.poll(TASK, worker="test-worker")
    s.elapse(3)
    s.update(task, "FAILED", reason="failed")
    s.check("ended, no retry", wid, ended, decide=True)


@case(SPEC, "totalTimeoutSeconds exceeded in checkTotalTimeout — IN_PROGRESS task is timed out")
def total_timeout_in_progress(s: Session) -> None:
    # The spec back-dates firstScheduledTime; here the 2 s budget really passes. Its response
    # time-out of 1 s would time the attempt out by itself: 3600 here.
    wid = _setup(
        s,
        retryCount=10,
        retryDelaySeconds=0,
        retryLogic="FIXED",
        totalTimeoutSeconds=2,
        timeoutSeconds=0,
        responseTimeoutSeconds=3600,
        timeoutPolicy="RETRY",
    )
    s.poll(TASK, worker="test-worker")
    s.check(
        "first attempt timed out",
        wid,
        lambda wf: wf["tasks"][0]["status"] == "TIMED_OUT",
        extract=lambda wf: wf["tasks"][0]["status"],
        tasks=False,
        wait_s=15,
        decide=True,
    )
