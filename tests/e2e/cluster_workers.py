"""Workers of the cluster fault tests, run as real `orchestrator worker tests.e2e.cluster_workers`
processes. Each execution appends its task id to ``$CLUSTER_WORKER_LOG`` (one file per worker
process), so a test can count executions per task across the worker processes."""

from __future__ import annotations

import os
from typing import Any

from orchestrator.worker import TaskContext, worker_task

TASKS = ("cluster_a", "cluster_b", "cluster_c")


def _note(task: TaskContext) -> dict[str, Any]:
    path = os.environ.get("CLUSTER_WORKER_LOG")
    if path:
        with open(path, "a") as out:  # one short line per write: appends stay whole
            out.write(f"{task.task_id}\n")
    return {"done": task.reference_task_name, "pid": os.getpid()}


@worker_task("cluster_a", concurrency=4)
def step_a(task: TaskContext) -> dict[str, Any]:
    return _note(task)


@worker_task("cluster_b", concurrency=4)
def step_b(task: TaskContext) -> dict[str, Any]:
    return _note(task)


@worker_task("cluster_c", concurrency=4)
def step_c(task: TaskContext) -> dict[str, Any]:
    return _note(task)
