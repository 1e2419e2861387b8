"""A Kafka SDK worker for tests/e2e/test_conductor_fidelity_stuck.py: serves the task type
named by FIDELITY_SDK_TASK, answers which task id it ran and appends that id to the file
FIDELITY_SDK_RAN (one line per run)."""

from __future__ import annotations

import os
from typing import Any

from orchestrator.worker import TaskContext, worker_task


@worker_task(os.environ.get("FIDELITY_SDK_TASK", "fidelity_sdk_task"))
def branch(task: TaskContext) -> dict[str, Any]:
    with open(os.environ["FIDELITY_SDK_RAN"], "a", encoding="utf-8") as ran:
        ran.write(task.task_id + "\n")
    return {"ran": task.task_id}
