"""A worker killed -9 holding a task, and a broker restart mid-run: workflows still complete.

Real broker, real `orchestrator processor` and `orchestrator worker` subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.statuses import TaskStatus
from tests.e2e.test_processor_faults import (
    TASKS,
    assert_exactly_once,
    three_step_definition,
    wait_for_progress,
    wait_until_ready,
)
from tests.runtime_support import (
    CommandSender,
    EventLog,
    RawWorker,
    Runtime,
    kill9,
)

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
RESPONSE_TIMEOUT_S = 3


def start_worker(rt: Runtime, name: str, hang: bool) -> subprocess.Popen[bytes]:
    env = rt.env()
    env["PYTHONPATH"] = str(REPO)
    env["FAULT_WORKER_HANG"] = "1" if hang else "0"
    log = open(rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "worker", "tests.e2e.fault_workers", "--grace", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rt.processes.append(proc)
    return proc


def fragile_definition():
    return parse_workflow_def(
        {
            "name": "fragile_flow",
            "version": 1,
            "tasks": [
                {
                    "name": "fragile",
                    "taskReferenceName": "fragile",
                    "taskDefinition": {
                        "name": "fragile",
                        "retryCount": 2,
                        "retryDelaySeconds": 0,
                        "responseTimeoutSeconds": RESPONSE_TIMEOUT_S,
                    },
                }
            ],
        }
    )


def test_task_of_a_killed_worker_is_handed_out_again_after_response_timeout(
    runtime: Runtime,
) -> None:
    runtime.create_topics(["fragile"])
    runtime.start_processor()
    wait_until_ready(runtime, "processor", 1, 60)
    doomed = start_worker(runtime, "worker-doomed", hang=True)
    sender, log = CommandSender(runtime), EventLog(runtime)
    wid = sender.start(fragile_definition())
    sender.flush()
    # Wait until the doomed worker has acknowledged the task (IN_PROGRESS in the log).
    deadline = time.monotonic() + 60
    picked: ev.TaskPickedUp | None = None
    while picked is None and time.monotonic() < deadline:
        log.poll(0.3)
        picked = next((e for e, _ in log.records[wid] if isinstance(e, ev.TaskPickedUp)), None)
    assert picked is not None, "the worker never acknowledged the task"
    kill9(doomed)
    start_worker(runtime, "worker-healthy", hang=False)
    missing = log.wait_completed({wid}, 90)
    assert not missing, "the workflow did not complete after the worker was killed"
    history = log.history(wid)
    timed_out = [e for e in history if isinstance(e, ev.TaskFailed)]
    assert [e.status for e in timed_out] == [TaskStatus.TIMED_OUT]
    assert "responseTimeout" in timed_out[0].reason
    # It timed out no earlier than responseTimeoutSeconds after the acknowledgement.
    assert timed_out[0].at - picked.at >= RESPONSE_TIMEOUT_S * 1000
    retry = [e for e in history if isinstance(e, ev.TaskScheduled)][-1]
    assert retry.retry_count == 1 and retry.retried_task_id == picked.task_id
    completed = [e for e in history if isinstance(e, ev.TaskCompleted)]
    assert [e.task_id for e in completed] == [retry.task_id]
    log.close()


def broker_pid(stack_dir: Path) -> int:
    return int((stack_dir / "kafka.pid").read_text().strip())


def test_workflows_complete_across_a_broker_restart(runtime: Runtime) -> None:
    stack_dir = Path(os.environ.get("ORCHESTRATOR_STACK_STATE_DIR", REPO / ".stack"))
    if not (stack_dir / "kafka.pid").exists():
        pytest.fail(
            f"no broker pid file in {stack_dir}: this test restarts the local stack's broker"
        )
    runtime.create_topics(TASKS)
    runtime.start_processor()
    wait_until_ready(runtime, "processor", 1, 60)
    sender, log = CommandSender(runtime), EventLog(runtime)
    definition = three_step_definition()
    with RawWorker(runtime, TASKS):
        ids = {sender.start(definition, {"n": i}) for i in range(100)}
        sender.flush()
        wait_for_progress(log, 60, 60)
        subprocess.run(  # a clean broker restart: stop it, start it again (same data)
            ["kill", "-TERM", str(broker_pid(stack_dir))], check=True
        )
        _wait_gone(broker_pid(stack_dir), 60)
        subprocess.run([sys.executable, str(REPO / "scripts" / "stack.py"), "up"], check=True)
        missing = log.wait_completed(ids, 180)
    assert not missing, f"{len(missing)} workflows did not complete after the broker restart"
    assert_exactly_once(log, ids)
    log.close()


def _wait_gone(pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"broker {pid} did not stop within {timeout_s} s")
