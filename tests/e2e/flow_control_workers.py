"""Workers of the flow-control end-to-end tests (tests/e2e/test_flow_control.py).

Run as real `orchestrator worker tests.e2e.flow_control_workers` processes. Each writes one JSON
line when a task starts and one when it ends to the file named by FLOW_LOG (O_APPEND, one write
per line, so several processes can share it), so the test measures hand-out times and
concurrency where they matter: at the workers.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from orchestrator.worker import TaskContext, worker_task

SLEEP_S = {"flow_rated": 0.05, "flow_conc": 0.3, "flow_prio": 1.2, "flow_live": 0.3}


def _note(kind: str, task: TaskContext) -> None:
    line = {
        "event": kind,
        "type": task.task_type,
        "task": task.task_id,
        "label": task.input.get("label"),
        "pid": os.getpid(),
        "t": time.time(),
    }
    fd = os.open(os.environ["FLOW_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def _run(task: TaskContext) -> dict[str, Any]:
    _note("start", task)
    time.sleep(SLEEP_S[task.task_type])
    _note("end", task)
    return {"label": task.input.get("label")}


@worker_task("flow_rated", concurrency=4)
def rated(task: TaskContext) -> dict[str, Any]:
    return _run(task)


@worker_task("flow_conc", concurrency=4)
def concurrent(task: TaskContext) -> dict[str, Any]:
    return _run(task)


@worker_task("flow_prio", concurrency=2)
def prioritised(task: TaskContext) -> dict[str, Any]:
    return _run(task)


@worker_task("flow_live", concurrency=4)
def live(task: TaskContext) -> dict[str, Any]:
    return _run(task)
