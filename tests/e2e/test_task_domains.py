"""Task domains on the real stack: Conductor's routing with pollers on several domains.

One deployment for the module: a processor, the API (HTTP poll bridge) and two Kafka SDK worker
processes of the task type ``dtask``: one polling domain ``blue``, one the default queue. A
thread of this test long-polls the API for domain ``green``, as a Conductor SDK worker would.
Each workflow's ``taskToDomain`` then decides where its task goes; the worker that picked it up
(``TaskPickedUp.worker_id`` in the event log, or the worker of a report carrying ``started_at``)
shows where it went. The activity window is 5 s
here (``ORCHESTRATOR_ACTIVE_WORKER_LAST_POLL_SECS``) so a poller's departure is seen quickly.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.commands import StartWorkflow
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.flow.presence import PresenceView
from orchestrator.worker import TaskContext, worker_task
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.e2e.e2e_support import register, start_process, start_processor, start_worker
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, EventLog, Runtime, now_ms

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TASK = "dtask"
WINDOW_S = 5
FLOW = WorkflowDef(
    name="domains_flow", version=1, tasks=(WorkflowTask(name=TASK, task_reference_name="d"),)
)


@worker_task(TASK, concurrency=2)
def dtask_worker(task: TaskContext) -> dict[str, Any]:
    """Run by the SDK worker processes: says which worker ran it."""
    return {"by": os.environ.get("ORCHESTRATOR_WORKER_ID", "?")}


@dataclass
class HttpPoller:
    """A Conductor-style HTTP worker: long-polls one domain and completes what it gets."""

    api: str
    domain: str
    worker_id: str
    key: str  # a worker key (tests/auth_support.py)
    handed: list[str] = field(default_factory=list)  # workflow ids of the tasks it got
    domains: set[str | None] = field(default_factory=set)  # the `domain` of those tasks
    stop: threading.Event = field(default_factory=threading.Event)

    def poll_once(self, client: httpx.Client, timeout_ms: int = 1000) -> list[dict[str, Any]]:
        answer = client.get(
            f"{self.api}/api/tasks/poll/batch/{TASK}",
            params={
                "count": 5,
                "timeout": timeout_ms,
                "workerid": self.worker_id,
                "domain": self.domain,
            },
            headers=bearer(self.key),
            timeout=timeout_ms / 1000 + 10,
        )
        answer.raise_for_status()
        tasks: list[dict[str, Any]] = answer.json()
        for task in tasks:
            result = {
                "workflowInstanceId": task["workflowInstanceId"],
                "taskId": task["taskId"],
                "status": "COMPLETED",
                "outputData": {"by": self.worker_id},
                "workerId": self.worker_id,
            }
            client.post(
                f"{self.api}/api/tasks", json=result, headers=bearer(self.key), timeout=10
            ).raise_for_status()
            self.handed.append(task["workflowInstanceId"])
            self.domains.add(task["domain"])
        return tasks

    def run(self) -> None:
        with httpx.Client() as client:
            while not self.stop.is_set():
                self.poll_once(client)


@dataclass
class Deployment:
    rt: Runtime
    api: str
    view: PresenceView
    sender: CommandSender
    log: EventLog
    blue: Any  # the blue SDK worker process
    green: HttpPoller
    worker_key: str

    def start(self, task_to_domain: dict[str, str]) -> str:
        wid = str(uuid.uuid4())
        command = StartWorkflow(
            workflow_id=wid,
            at=now_ms(),
            actor="api:test",
            name=FLOW.name,
            version=FLOW.version,
            definition=FLOW,
            input={},
            task_to_domain=task_to_domain,
        )
        self.sender.send(command)
        self.sender.flush()
        return wid

    def picked_up_by(self, wid: str, timeout_s: float = 30.0) -> str | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event, _ in self.log.records[wid]:
                # The pickup, or a report that carried it (the SDK's deferred ack, ADR 0007).
                if isinstance(event, ev.TaskPickedUp) or getattr(event, "started_at", None):
                    return event.worker_id  # type: ignore[union-attr]
            self.log.poll(0.3)
        raise AssertionError(f"{wid}: task not picked up within {timeout_s} s; {self.rt.log_dir}")

    def wait_completed(self, wids: set[str], timeout_s: float = 30.0) -> None:
        missing = self.log.wait_completed(wids, timeout_s)
        assert not missing, f"not completed: {missing}; logs in {self.rt.log_dir}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    """The API answers and reaches Kafka (no projector runs here, so /health stays 503)."""
    try:
        body = httpx.get(f"{url}/health", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return bool(body["components"]["kafka"]["healthy"])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    log_dir: Path = tmp_path_factory.mktemp("domains")
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-dom-{uuid.uuid4().hex[:8]}", log_dir=log_dir)
    rt.create_topics()
    window = {"ORCHESTRATOR_ACTIVE_WORKER_LAST_POLL_SECS": str(WINDOW_S)}
    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    worker_key = new_key(support.schema_url(base, schema), "worker", "http-workers", [TASK])
    green = HttpPoller(api, "green", "http-green", worker_key)
    view = PresenceView.from_settings(
        support.settings_for(base, rt.prefix, active_worker_last_poll_secs=str(WINDOW_S))
    )
    threads: list[threading.Thread] = []
    log: EventLog | None = None
    try:
        register(rt, [TaskDef(name=TASK, retry_count=0)])
        start_processor(rt, window)
        api_env = {**window, "ORCHESTRATOR_DATABASE_URL": support.schema_url(base, schema)}
        start_process(rt, ["api", "--host", "127.0.0.1", "--port", str(port)], "api", api_env)
        target = ["tests.e2e.test_task_domains:dtask_worker"]
        blue = start_worker(rt, [*target, "--domain", "blue"], "worker-blue", env=_id("sdk-blue"))
        start_worker(rt, target, "worker-default", env=_id("sdk-default"))
        view.start()
        wait_until_ready(rt, "processor", 1, 60)
        support.wait_until(lambda: _healthy(api), 60, "the API to answer /health")
        threads.append(threading.Thread(target=green.run, name="http-green", daemon=True))
        threads[0].start()
        for domain in ("blue", "green", None):
            support.wait_until(lambda d=domain: view.active(TASK, d), 60, f"a poller on {domain}")
        time.sleep(1.0)  # the processor's view follows the same topic: give it a moment
        log = EventLog(rt)
        yield Deployment(rt, api, view, CommandSender(rt), log, blue, green, worker_key)
    finally:
        green.stop.set()
        for thread in threads:
            thread.join(10)
        if log is not None:
            log.close()
        view.stop()
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


def _id(worker_id: str) -> dict[str, str]:
    return {"ORCHESTRATOR_WORKER_ID": worker_id}


def test_pollers_of_both_kinds_are_seen_on_their_domains(deployment: Deployment) -> None:
    pollers = {(d, w) for d, w, _ in deployment.view.pollers(TASK)}
    assert {("blue", "sdk-blue"), ("green", "http-green"), (None, "sdk-default")} <= pollers


def test_tasks_go_to_the_first_listed_domain_with_an_active_poller(
    deployment: Deployment,
) -> None:
    cases = {
        "blue,green,NO_DOMAIN": "sdk-blue",
        "red,green,NO_DOMAIN": "http-green",  # red has no poller: skipped
        "red,NO_DOMAIN": "sdk-default",  # none active: NO_DOMAIN last = the default queue
        "NO_DOMAIN": "sdk-default",
    }
    started = {spec: deployment.start({TASK: spec}) for spec in cases}
    wildcard = deployment.start({"*": "green,blue"})
    got = {spec: deployment.picked_up_by(wid) for spec, wid in started.items()}
    assert got == cases
    assert deployment.picked_up_by(wildcard) == "http-green"
    deployment.wait_completed({*started.values(), wildcard})
    assert deployment.green.domains == {"green"}


def test_with_no_active_domain_the_task_waits_in_the_last_listed_domain(
    deployment: Deployment,
) -> None:
    wid = deployment.start({TASK: "red,purple"})
    time.sleep(3.0)  # nobody polls red or purple: nobody may pick the task up meanwhile
    deployment.log.poll(0.5)
    taken = (ev.TaskPickedUp, ev.TaskProgressed, ev.TaskCompleted, ev.TaskFailed)
    assert not any(isinstance(e, taken) for e, _ in deployment.log.records[wid])
    purple = HttpPoller(deployment.api, "purple", "http-purple", deployment.worker_key)
    with httpx.Client() as client:
        support.wait_until(lambda: bool(purple.poll_once(client)), 20, "the task in purple")
    assert purple.handed == [wid]
    assert purple.domains == {"purple"}  # the resolved domain, not the list
    deployment.wait_completed({wid})


def test_a_domain_whose_poller_stopped_is_skipped_after_the_window(
    deployment: Deployment,
) -> None:
    deployment.blue.send_signal(signal.SIGTERM)
    deployment.blue.wait(30)
    support.wait_until(
        lambda: not deployment.view.active(TASK, "blue"), WINDOW_S + 10, "blue to go inactive"
    )
    assert deployment.view.active(TASK, "green")
    wid = deployment.start({TASK: "blue,green,NO_DOMAIN"})
    assert deployment.picked_up_by(wid) == "http-green"
    deployment.wait_completed({wid})
