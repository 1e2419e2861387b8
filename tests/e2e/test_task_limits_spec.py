"""Conductor's TaskLimitsWorkflowSpec, as a worker sees it: HTTP pollers across two API processes.

Conductor on Redis counts a rate-limited task when a poll hands it out
(``RedisRateLimitingDAO.exceedsRateLimitPerFrequency`` in ``ExecutionService.poll``), so in
every sliding window of ``rateLimitFrequencyInSeconds`` the workers receive at most
``rateLimitPerFrequency`` tasks. Here the gate counts each hand-out from the time the HTTP
bridge (or a worker) took the task, and every released task until then (ADR 0006). Real
processes: a processor, a gate, a projector and two API processes; three pollers (threads of
this test) long-poll ``GET /api/tasks/poll/batch/{type}?count=10&timeout=100`` on either API
and record when each answer reached them.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_workflow_def
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.e2e.e2e_support import register, start_process
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, Runtime

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(240),
]

RATE, WINDOW_S = 5, 1
TASKS = 30
POLLERS = 3


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Deployment:
    rt: Runtime
    apis: list[str]
    sender: CommandSender
    worker_key: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-lim-{uuid.uuid4().hex[:10]}", log_dir=tmp_path)
    rt.create_topics()
    env = {"ORCHESTRATOR_DATABASE_URL": support.schema_url(base, schema)}
    try:
        rt.start_processor()
        start_process(rt, ["gate"], "gate", env)
        start_process(rt, ["projector"], "projector", env)
        apis = []
        for i in range(2):
            port = _free_port()
            start_process(rt, ["api", "--host", "127.0.0.1", "--port", str(port)], f"api-{i}", env)
            apis.append(f"http://127.0.0.1:{port}")
        for url in apis:
            support.wait_until(lambda url=url: _healthy(url), 90, f"{url} to answer /health")
        wait_until_ready(rt, "processor", 1, 90)
        key = new_key(env["ORCHESTRATOR_DATABASE_URL"], "worker", "limits-pollers")
        yield Deployment(rt, apis, CommandSender(rt), key)
    finally:
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


@dataclass
class Pollers:
    """Three HTTP pollers; each completes what it gets at once, as a fast worker would."""

    apis: list[str]
    task_type: str
    expected: int
    key: str  # a worker key
    received: list[tuple[float, int]] = field(default_factory=list)  # (receipt, startTime)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        threads = [
            threading.Thread(target=self._poll, args=(i, deadline), daemon=True)
            for i in range(POLLERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _done(self) -> bool:
        with self.lock:
            return len(self.received) >= self.expected

    def _poll(self, i: int, deadline: float) -> None:
        base = self.apis[i % len(self.apis)]
        headers = bearer(self.key)
        with httpx.Client(base_url=f"{base}/api", timeout=10, headers=headers) as client:
            while not self._done() and time.monotonic() < deadline:
                answer = client.get(
                    f"/tasks/poll/batch/{self.task_type}",
                    params={"count": 10, "timeout": 100, "workerid": f"poller-{i}"},
                )
                now = time.time()
                assert answer.status_code == 200, answer.text
                for task in answer.json():
                    with self.lock:
                        self.received.append((now, task["startTime"]))
                    result = {
                        "workflowInstanceId": task["workflowInstanceId"],
                        "taskId": task["taskId"],
                        "status": "COMPLETED",
                        "outputData": {"by": f"poller-{i}"},
                    }
                    assert client.post("/tasks", json=result).status_code == 200


def test_task_limits_workflow_spec_rate_limit_holds_at_http_pollers(
    deployment: Deployment,
) -> None:
    task_type = f"lim_rated_{uuid.uuid4().hex[:6]}"
    register(
        deployment.rt,
        [
            TaskDef(
                task_type,
                rate_limit_per_frequency=RATE,
                rate_limit_frequency_in_seconds=WINDOW_S,
            )
        ],
    )
    definition = parse_workflow_def(
        {
            "name": f"wf_{task_type}",
            "version": 1,
            "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}],
        }
    )
    pollers = Pollers(deployment.apis, task_type, TASKS, deployment.worker_key)
    # Pollers first: the pollers of both APIs join the type's consumer group before the backlog.
    warm = threading.Thread(target=pollers.run, args=(120.0,), daemon=True)
    warm.start()
    time.sleep(2.0)
    for _ in range(TASKS):
        deployment.sender.start(definition)
    deployment.sender.flush()
    warm.join(150)

    received = [t for t, _ in pollers.received]
    assert len(received) == TASKS, (
        f"{len(received)} of {TASKS} handed out; logs in {_logs(deployment)}"
    )
    # Where it matters: when the answers reached the pollers, in any sliding window.
    assert most_in_any_window(received, WINDOW_S) <= RATE, sorted(received)
    # Throttled, not just fast: 30 tasks at 5 per second span at least 5 windows.
    span = max(received) - min(received)
    assert span >= (TASKS / RATE - 1) * WINDOW_S, f"span {span:.2f} s"
    # The bridge's stamp (startTime) precedes the receipt by less than the gate's slack.
    lags = sorted(t * 1000 - start for t, start in pollers.received)
    print(
        f"\nhand-outs: {TASKS} in {span:.2f} s ({TASKS / span:.2f}/s); "
        f"receipt - startTime ms: median {lags[len(lags) // 2]:.0f}, max {lags[-1]:.0f}",
        file=sys.stderr,
    )


def _logs(deployment: Deployment) -> str:
    return str(deployment.rt.log_dir)
