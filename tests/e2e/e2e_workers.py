"""Worker functions of the end-to-end task-type, secrets and demo tests.

Run as a real `orchestrator worker tests.e2e.e2e_workers` process. Each function's behaviour is
deterministic (keyed on the attempt number), so the tests can assert exact histories.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from orchestrator.worker import TaskContext, TerminalError, worker_task


@worker_task("e2e_echo", concurrency=8)
def echo(task: TaskContext) -> dict[str, Any]:
    """Returns what it got, and where it ran (reference name with loop suffix, iteration)."""
    return {"echo": task.input, "ref": task.reference_task_name, "iteration": task.iteration}


@worker_task("e2e_add", concurrency=4)
def add(task_input: dict[str, Any]) -> dict[str, Any]:
    return {"sum": task_input["a"] + task_input["b"]}


@worker_task("e2e_flaky", concurrency=4)
def flaky(task: TaskContext) -> dict[str, Any]:
    """Fails its first attempt (FAILED: retried per the TaskDef), succeeds on the next."""
    if task.retry_count == 0:
        raise ConnectionError("e2e_flaky: first attempt fails")
    return {"attempt": task.retry_count}


@worker_task("e2e_fail", concurrency=2)
def always_fails(task_input: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("e2e_fail: always fails")


@worker_task("e2e_terminal", concurrency=2)
def terminal(task_input: dict[str, Any]) -> dict[str, Any]:
    raise TerminalError("e2e_terminal: no point retrying", output={"code": 42})


@worker_task("e2e_slow", concurrency=4)
def slow(task: TaskContext) -> dict[str, Any]:
    """First attempt: works `sleepSeconds` while heartbeating (so only timeoutSeconds can end
    it, not responseTimeoutSeconds); later attempts return at once."""
    if task.retry_count == 0:
        deadline = time.monotonic() + float(task.input.get("sleepSeconds", 5))
        while time.monotonic() < deadline:
            task.heartbeat()
            time.sleep(0.5)
    return {"attempt": task.retry_count}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@worker_task("e2e_secret_hash", concurrency=2)
def secret_hash(task_input: dict[str, Any]) -> dict[str, Any]:
    """Proves the secret arrived resolved without reporting it: returns hashes of the values.

    It also prints the input's `logCanary` (a non-secret marker), so the secrets test can show
    that its scan of the worker's log does find a value that was printed.
    """
    print(f"e2e_secret_hash canary: {task_input.get('logCanary')}", flush=True)
    token, header = str(task_input.get("token")), str(task_input.get("header"))
    return {
        "tokenSha256": sha256(token),
        "headerSha256": sha256(header),
        "tokenLength": len(token),
        "unresolved": "${" in token or "${" in header,
    }
