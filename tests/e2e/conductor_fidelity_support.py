"""The stack and the client of the Conductor-fidelity end-to-end tests (issue #16).

The stack: a processor (tests/e2e/faulty_processor.py: the real one, whose script evaluator
crashes on one injected expression), a projector and the REST API, as subprocesses on the real
Kafka and Postgres. The client speaks only Conductor's REST API, as Conductor's test harness
and an HTTP-polling worker do: metadata, start, get, retry, `GET /api/tasks/poll/{type}` and
`POST /api/tasks`. The same calls were run against the real Conductor OSS 3.32.3 server to get
the expected task lists (see each test).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.runtime_support import Runtime

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
Json = dict[str, Any]


@dataclass
class Conductor:
    """A Conductor REST client (the subset the test harness uses)."""

    api: str  # http://host:port/api
    prefix: str  # unique per run: definitions of different runs never meet
    client: httpx.Client
    rt: Runtime | None = None  # the deployment, to start more processes (None: another server)

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def task_def(self, short: str, **fields: Any) -> Json:
        base = {"name": self.name(short), "retryCount": 0, "timeoutSeconds": 0}
        return {**base, "responseTimeoutSeconds": 30, "ownerEmail": "e2e@example.com", **fields}

    def register(self, workflow: Json, task_defs: list[Json] = ()) -> None:  # type: ignore[assignment]
        if task_defs:
            self._ok(self.client.post(f"{self.api}/metadata/taskdefs", json=list(task_defs)))
        definition = {"version": 1, "schemaVersion": 2, "ownerEmail": "e2e@example.com", **workflow}
        self._ok(self.client.put(f"{self.api}/metadata/workflow", json=[definition]))

    def start(self, name: str, workflow_input: Json | None = None) -> str:
        answer = self.client.post(f"{self.api}/workflow/{name}", json=workflow_input or {})
        self._ok(answer)
        return answer.text

    def workflow(self, workflow_id: str) -> Json:
        answer = self.client.get(f"{self.api}/workflow/{workflow_id}?includeTasks=true")
        self._ok(answer)
        result: Json = answer.json()
        return result

    def retry(self, workflow_id: str) -> None:
        self._ok(self.client.post(f"{self.api}/workflow/{workflow_id}/retry"))

    def poll(self, task_type: str) -> Json | None:
        """One poll, as a worker's: the task handed out (now IN_PROGRESS) or None (204)."""
        answer = self.client.get(f"{self.api}/tasks/poll/{task_type}", params={"workerid": "w"})
        if answer.status_code == 204:
            return None
        self._ok(answer)
        task: Json = answer.json()
        return task

    def poll_until(self, task_type: str, timeout_s: float = 20.0) -> Json:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            task = self.poll(task_type)
            if task is not None:
                return task
            time.sleep(0.1)
        raise AssertionError(f"no {task_type} task to poll within {timeout_s} s")

    def update(
        self, task: Json, status: str = "COMPLETED", output: Json | None = None, **kw: Any
    ) -> None:
        body = {
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": status,
            "outputData": output or {},
            "workerId": "w",
            **kw,
        }
        self._ok(self.client.post(f"{self.api}/tasks", json=body))

    def until(
        self, workflow_id: str, check: Callable[[Json], bool], timeout_s: float = 20.0
    ) -> Json:
        """The workflow as soon as `check` holds (the read model follows the log closely)."""
        deadline = time.monotonic() + timeout_s
        seen: Json = {}
        while time.monotonic() < deadline:
            seen = self.workflow(workflow_id)
            if check(seen):
                return seen
            time.sleep(0.1)
        raise AssertionError(f"{workflow_id}: condition not met in {timeout_s} s: {brief(seen)}")

    def _ok(self, answer: httpx.Response) -> None:
        assert answer.status_code < 300, f"{answer.request.url}: {answer.status_code} {answer.text}"


def tasks_of(workflow: Json, *fields: str) -> list[tuple[Any, ...]]:
    """Conductor's task list, as the specs read it: the given fields of each task, in order."""
    fields = fields or ("referenceTaskName", "status")
    return [tuple(t.get(f) for f in fields) for t in workflow.get("tasks", [])]


def status_is(*statuses: str) -> Callable[[Json], bool]:
    return lambda w: w.get("status") in statuses


def brief(workflow: Json) -> str:
    return f"{workflow.get('status')} {tasks_of(workflow, 'referenceTaskName', 'status')}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sdk_worker(c: Conductor, task_type: str) -> Path:
    """`orchestrator worker tests.e2e.fidelity_sdk_worker` serving `task_type` (Kafka SDK);
    returns the file where it lists the task ids it ran."""
    assert c.rt is not None, "a worker needs our own stack"
    ran = c.rt.log_dir / f"ran-{task_type}.txt"
    ran.touch()
    env = {**c.rt.env(), "PYTHONPATH": str(REPO), "FIDELITY_SDK_TASK": task_type}
    env["FIDELITY_SDK_RAN"] = str(ran)
    argv = [sys.executable, "-m", "orchestrator", "worker", "tests.e2e.fidelity_sdk_worker"]
    _spawn(c.rt, f"worker-{task_type}", [*argv, "--grace", "1"], env)
    return ran


def _spawn(rt: Runtime, name: str, argv: list[str], env: dict[str, str]) -> None:
    log = open(rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    rt.processes.append(proc)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def fidelity_stack(log_dir: Path) -> Iterator[tuple[Runtime, Conductor]]:
    """Processor (with the injected evaluator bug), projector and API of one deployment."""
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-fid-{uuid.uuid4().hex[:10]}", log_dir=log_dir)
    rt.create_topics()
    env = rt.env()
    env["ORCHESTRATOR_DATABASE_URL"] = support.schema_url(base, schema)
    env["PYTHONPATH"] = str(REPO)
    port = _free_port()
    try:
        _spawn(rt, "processor", [sys.executable, str(HERE / "faulty_processor.py")], env)
        _spawn(rt, "projector", [sys.executable, "-m", "orchestrator", "projector"], env)
        api = [sys.executable, "-m", "orchestrator", "api", "--host", "127.0.0.1"]
        _spawn(rt, "api", [*api, "--port", str(port)], env)
        url = f"http://127.0.0.1:{port}"
        support.wait_until(lambda: _healthy(url), 60, "the API to answer /health")
        admin = bearer(new_key(env["ORCHESTRATOR_DATABASE_URL"], "admin", "fidelity"))
        with httpx.Client(timeout=30, headers=admin) as client:
            yield rt, Conductor(f"{url}/api", f"fid_{uuid.uuid4().hex[:6]}_", client, rt)
    finally:
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)
