"""Workers run as real `orchestrator worker tests.e2e.fault_workers` processes by the fault tests.

FAULT_WORKER_HANG=1: the first attempt of every task hangs (so a test can kill -9 the process
while the task is in its hands); otherwise every task completes at once.
"""

from __future__ import annotations

import os
import time
from typing import Any

from orchestrator.worker import TaskContext, worker_task


@worker_task("fragile", concurrency=2)
def fragile(task: TaskContext) -> dict[str, Any]:
    if os.environ.get("FAULT_WORKER_HANG") == "1" and task.retry_count == 0:
        time.sleep(3600)
    return {"attempt": task.retry_count, "pid": os.getpid()}
