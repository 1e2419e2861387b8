"""Engine rejections reach the REST caller, on the real stack: a processor subprocess (the real
engine), the projector and the API, on their own topic prefix and Postgres schema.

The API's pre-checks read the projection; to reach the engine's own refusal, each test makes the
read model lag on purpose: it stops the projector, changes the workflow behind the API's back
(a command produced straight to Kafka, seen applied on the events topic), then calls the API,
whose pre-check still sees the old state. The engine refuses; the API must answer with the
engine's reason (409, ``code`` = the rejection code) instead of a 2xx. Every answer's status must
also be one that /docs declares for the operation.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.api import routes_bulk
from orchestrator.api.app import create_app
from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.statuses import TaskStatus
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import authed
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import CommandSender, EventLog, Runtime, now_ms

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TASK_DEF = {"name": "never_done", "retryCount": 0, "responseTimeoutSeconds": 3600}
FLOW = {
    "name": "rej_flow",
    "version": 1,
    "tasks": [{"name": "never_done", "taskReferenceName": "work", "type": "SIMPLE"}],
}


@dataclass
class Stack:
    rt: Runtime
    settings: Settings
    client: TestClient
    sender: CommandSender
    log: EventLog
    projector: tuple[Projector, threading.Thread] | None = None

    def start_projector(self) -> None:
        runner = Projector(self.settings)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        self.projector = (runner, thread)

    def stop_projector(self) -> None:
        assert self.projector is not None
        runner, thread = self.projector
        runner.stop()
        thread.join(30)
        self.projector = None

    @contextmanager
    def lagging_read_model(self) -> Iterator[None]:
        """The projector stopped for the block; started again (and caught up) after it."""
        self.stop_projector()
        try:
            yield
        finally:
            self.start_projector()

    def behind_the_api(self, command: cmd.Command, then: type[ev.EventBase]) -> None:
        """Produce ``command`` to Kafka directly; return once the engine emitted ``then``."""
        before = sum(isinstance(e, then) for e, _ in self.log.records[command.workflow_id])
        self.sender.send(command)
        self.sender.flush()
        deadline = time.monotonic() + 30
        while sum(isinstance(e, then) for e, _ in self.log.records[command.workflow_id]) == before:
            assert time.monotonic() < deadline, f"the engine did not emit {then.__name__}"
            self.log.poll(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-rej-{os.urandom(4).hex()}", log_dir=tmp_path_factory.mktemp("rej"))
    rt.create_topics()
    settings = support.settings_for(support.schema_url(base, schema), rt.prefix, partitions="4")
    log = EventLog(rt)
    try:
        rt.start_processor()
        wait_until_ready(rt, "processor", 1, 90)
        with authed(TestClient(create_app(settings)), settings) as client:
            stack = Stack(rt, settings, client, CommandSender(rt), log)
            stack.start_projector()
            assert client.post("/api/metadata/taskdefs", json=[TASK_DEF]).status_code == 200
            assert client.post("/api/metadata/workflow", json=FLOW).status_code == 200
            yield stack
            if stack.projector is not None:
                stack.stop_projector()
    finally:
        log.close()
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


def documented(client: TestClient, method: str, template: str, response: httpx.Response) -> None:
    """The answer's status is one /docs declares for that operation (exactly, or its NXX)."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    declared = spec["paths"]["/api" + template][method]["responses"]
    code = str(response.status_code)
    assert code in declared or f"{code[0]}XX" in declared, (method, template, code, declared)


def call(stack: Stack, method: str, template: str, workflow_id: str, **kw: Any) -> httpx.Response:
    response = stack.client.request(method, "/api" + template.format(id=workflow_id), **kw)
    documented(stack.client, method.lower(), template.replace("{id}", "{workflow_id}"), response)
    return response


def running(stack: Stack) -> str:
    response = stack.client.post("/api/workflow", json={"name": "rej_flow"})
    assert response.status_code == 200, response.text
    return response.text


def status_of(stack: Stack, workflow_id: str) -> str:
    status: str = stack.client.get(f"/api/workflow/{workflow_id}/status").json()["status"]
    return status


def head(workflow_id: str) -> dict[str, Any]:
    return {"workflow_id": workflow_id, "at": now_ms(), "actor": "api:behind"}


def finish_task(workflow_id: str, status: TaskStatus) -> cmd.UpdateTaskByRef:
    return cmd.UpdateTaskByRef(**head(workflow_id), task_ref="work", status=status)


def test_pause_of_a_workflow_completed_behind_the_read_model_is_409_with_the_engines_reason(
    stack: Stack,
) -> None:
    workflow_id = running(stack)
    with stack.lagging_read_model():
        stack.behind_the_api(finish_task(workflow_id, TaskStatus.COMPLETED), ev.WorkflowCompleted)
        assert status_of(stack, workflow_id) == "RUNNING"  # the API's pre-check will pass
        began = time.monotonic()
        response = call(stack, "PUT", "/workflow/{id}/pause", workflow_id)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "WORKFLOW_TERMINAL"
    assert "PauseWorkflow refused by the engine: workflow has ended (COMPLETED)" in body["message"]
    assert time.monotonic() - began < 5  # the refusal, not the wait bound, ended the wait
    support.wait_until(lambda: status_of(stack, workflow_id) == "COMPLETED", what="caught up")


def test_retry_of_a_workflow_running_again_behind_the_read_model_is_409(stack: Stack) -> None:
    workflow_id = running(stack)
    stack.behind_the_api(finish_task(workflow_id, TaskStatus.FAILED), ev.WorkflowFailed)
    support.wait_until(lambda: status_of(stack, workflow_id) == "FAILED", what="FAILED shown")
    with stack.lagging_read_model():
        stack.behind_the_api(cmd.RetryWorkflow(**head(workflow_id)), ev.WorkflowRetried)
        response = call(stack, "POST", "/workflow/{id}/retry", workflow_id)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "WORKFLOW_NOT_TERMINAL"
    assert "workflow is still RUNNING" in response.json()["message"]
    # Seen by the read model too, the retry is refused by the API's own pre-check: also 409.
    support.wait_until(lambda: status_of(stack, workflow_id) == "RUNNING", what="caught up")
    again = call(stack, "POST", "/workflow/{id}/retry", workflow_id)
    assert again.status_code == 409 and "code" not in again.json()


def test_valid_operations_answer_2xx_and_a_read_right_after_sees_them(stack: Stack) -> None:
    workflow_id = running(stack)
    assert call(stack, "PUT", "/workflow/{id}/pause", workflow_id).status_code == 200
    assert status_of(stack, workflow_id) == "PAUSED"  # no sleep: read-your-writes
    assert call(stack, "PUT", "/workflow/{id}/resume", workflow_id).status_code == 200
    assert status_of(stack, workflow_id) == "RUNNING"
    stack.behind_the_api(finish_task(workflow_id, TaskStatus.FAILED), ev.WorkflowFailed)
    support.wait_until(lambda: status_of(stack, workflow_id) == "FAILED", what="FAILED shown")
    retried = call(stack, "POST", "/workflow/{id}/retry", workflow_id)
    assert (retried.status_code, retried.content) == (204, b"")
    assert status_of(stack, workflow_id) == "RUNNING"
    ended = call(stack, "DELETE", "/workflow/{id}", workflow_id, params={"reason": "enough"})
    assert ended.status_code == 200
    assert status_of(stack, workflow_id) == "TERMINATED"


def test_pause_of_a_workflow_paused_behind_the_read_model_is_still_200(stack: Stack) -> None:
    """The engine refuses a second pause ("already paused"); as Conductor, that is success."""
    workflow_id = running(stack)
    with stack.lagging_read_model():
        stack.behind_the_api(cmd.PauseWorkflow(**head(workflow_id)), ev.WorkflowPaused)
        response = call(stack, "PUT", "/workflow/{id}/pause", workflow_id)
    assert response.status_code == 200, response.text


def test_bulk_lists_the_ids_the_engine_refused_with_its_reason(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_bulk, "COMMAND_WAIT_S", 1.0)  # `fine` cannot show while lagging
    fine, ended = running(stack), running(stack)
    with stack.lagging_read_model():
        stack.behind_the_api(finish_task(ended, TaskStatus.COMPLETED), ev.WorkflowCompleted)
        response = stack.client.put("/api/workflow/bulk/pause", json=[fine, ended])
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["bulkSuccessfulResults"] == [fine]
    assert "workflow has ended (COMPLETED)" in body["bulkErrorResults"][ended]
    support.wait_until(lambda: status_of(stack, fine) == "PAUSED", what="the accepted pause")


def test_a_command_for_a_workflow_the_engine_does_not_know_is_404(stack: Stack) -> None:
    """A row in the read model the engine never had (e.g. a read model of another deployment):
    the engine's WORKFLOW_NOT_FOUND becomes Conductor's 404."""
    workflow_id = running(stack)
    with support_row_copy(stack, workflow_id) as ghost:
        response = call(stack, "PUT", "/workflow/{id}/pause", ghost)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "WORKFLOW_NOT_FOUND"


@contextmanager
def support_row_copy(stack: Stack, workflow_id: str) -> Iterator[str]:
    """A copy of ``workflow_id``'s row under a new id, in the read model only."""
    import psycopg

    ghost = f"ghost-{os.urandom(4).hex()}"
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE g AS SELECT * FROM workflows WHERE workflow_id = %s",
                     (workflow_id,))  # fmt: skip
        conn.execute("UPDATE g SET workflow_id = %s, root_workflow_id = %s", (ghost, ghost))
        conn.execute("INSERT INTO workflows SELECT * FROM g")
    try:
        yield ghost
    finally:
        with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM workflows WHERE workflow_id = %s", (ghost,))
