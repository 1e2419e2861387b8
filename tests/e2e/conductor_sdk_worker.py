"""A worker written only against the official conductor-python SDK: no import of this project.

Run by tests/e2e/test_conductor_sdk.py as ``python tests/e2e/conductor_sdk_worker.py`` with
``CONDUCTOR_SERVER_URL`` pointing at our API (``http://127.0.0.1:<port>/api``) and
``BRIDGE_E2E_TASK`` naming the task to serve. It is what a Conductor user already runs, unchanged.
"""

# No `from __future__ import annotations`: the SDK reads the parameter types at run time.
import os
import signal
import threading

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.worker.worker_task import worker_task

TASK = os.environ["BRIDGE_E2E_TASK"]


@worker_task(task_definition_name=TASK, thread_count=2, poll_interval_millis=100)
def double(n: int, secret: str = "") -> dict:
    # The secret's length proves it was resolved at hand-off, without echoing its value.
    return {"doubled": n * 2, "secretLength": len(secret)}


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handler = TaskHandler(configuration=Configuration(), scan_for_annotated_workers=True)
    handler.start_processes()
    try:
        stop.wait()
    finally:
        handler.stop_processes()


if __name__ == "__main__":
    main()
