"""The official conductor-python SDK (2.0.0), unchanged, against our server.

Real processes on the real stack: the processor, a projector, the API (uvicorn) and a worker
process that uses nothing but the SDK (tests/e2e/conductor_sdk_worker.py). The test itself talks
to the API only through the SDK's clients: metadata (task and workflow definitions), workflow
(start, get) and task (update by reference name, get task, queue size).
"""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import readmodel_support as support
from tests.auth_support import new_key
from tests.runtime_support import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

WORKER_SCRIPT = Path(__file__).with_name("conductor_sdk_worker.py")
SECRET_VALUE = "sdk-e2e-secret"


def _sdk() -> Any:
    """Import the SDK's clients; undo its global ``multiprocessing.set_start_method('spawn')``
    (done at import) so the rest of this pytest run keeps the platform default."""
    before = multiprocessing.get_start_method(allow_none=True)
    import conductor.client.http.models as models
    from conductor.client.configuration.configuration import Configuration
    from conductor.client.http.rest import ApiException
    from conductor.client.orkes_clients import OrkesClients

    multiprocessing.set_start_method(before, force=True)
    return models, Configuration, OrkesClients, ApiException


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Runtime, str, dict[str, str]]]:
    """Processor, projector and API of one isolated deployment; yields (runtime, api url, env)."""
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-sdk-{uuid.uuid4().hex[:10]}", log_dir=tmp_path)
    rt.create_topics()
    env = rt.env()
    env["ORCHESTRATOR_DATABASE_URL"] = support.schema_url(base, schema)
    env["ORCHESTRATOR_SECRET_SDK_E2E_TOKEN"] = SECRET_VALUE
    port = _free_port()
    try:
        rt.start_processor()
        _spawn(rt, "projector", [sys.executable, "-m", "orchestrator", "projector"], env)
        api = [sys.executable, "-m", "orchestrator", "api", "--host", "127.0.0.1"]
        _spawn(rt, "api", [*api, "--port", str(port)], env)
        url = f"http://127.0.0.1:{port}"
        support.wait_until(lambda: _healthy(url), 60, "the API to answer /health")
        yield rt, f"{url}/api", env
    finally:
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


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


def _logs(rt: Runtime) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in rt.log_dir.glob("*.log")
    )


def test_conductor_python_sdk_runs_a_workflow_against_this_server(
    stack: tuple[Runtime, str, dict[str, str]],
) -> None:
    rt, api_url, env = stack
    models, Configuration, OrkesClients, ApiException = _sdk()
    from conductor.client.configuration.settings.authentication_settings import (
        AuthenticationSettings,
    )

    task_name = f"sdk_double_{uuid.uuid4().hex[:6]}"
    flow_name = f"sdk_flow_{uuid.uuid4().hex[:6]}"
    # Keys as an operator hands them out: an admin for this script, a worker key for the SDK
    # worker, limited to its task type. The SDK exchanges each for a token (POST /api/token).
    db = env["ORCHESTRATOR_DATABASE_URL"]
    admin_id, admin_secret = new_key(db, "admin", "sdk-admin").split(".", 1)
    worker_id, worker_secret = new_key(db, "worker", "sdk-worker", [task_name]).split(".", 1)
    auth = AuthenticationSettings(key_id=admin_id, key_secret=admin_secret)
    clients = OrkesClients(Configuration(server_api_url=api_url, authentication_settings=auth))
    metadata = clients.get_metadata_client()
    workflows = clients.get_workflow_client()
    tasks = clients.get_task_client()

    metadata.register_task_def(
        models.TaskDef(
            name=task_name, retry_count=1, timeout_seconds=120, response_timeout_seconds=30
        )
    )
    double = models.WorkflowTask(
        name=task_name,
        task_reference_name="double_ref",
        type="SIMPLE",
        input_parameters={
            "n": "${workflow.input.n}",
            "secret": "${workflow.secrets.SDK_E2E_TOKEN}",
        },
    )
    approve = models.WorkflowTask(name="approve", task_reference_name="approve_ref", type="HUMAN")
    metadata.register_workflow_def(
        models.WorkflowDef(
            name=flow_name,
            version=1,
            tasks=[double, approve],
            output_parameters={
                "doubled": "${double_ref.output.doubled}",
                "secretLength": "${double_ref.output.secretLength}",
                "approvedBy": "${approve_ref.output.result.by}",
            },
            schema_version=2,
            timeout_seconds=0,
        )
    )
    assert metadata.get_task_def(task_name).name == task_name

    # Work-around (reported): a start that reaches a fresh processor before its definitions
    # follower has loaded can leave the processor consuming nothing; wait for the follower.
    support.wait_until(
        lambda: any(b"definitions loaded" in p.read_bytes() for p in rt.log_dir.glob("processor*")),
        60,
        "the processor to load the definitions",
    )
    workflow_id = workflows.start_workflow(
        models.StartWorkflowRequest(name=flow_name, version=1, input={"n": 21})
    )

    worker_env = {
        **env,
        "CONDUCTOR_SERVER_URL": api_url,
        "CONDUCTOR_AUTH_KEY": worker_id,  # the SDK's standard variables
        "CONDUCTOR_AUTH_SECRET": worker_secret,
        "BRIDGE_E2E_TASK": task_name,
    }
    _spawn(rt, "sdk-worker", [sys.executable, str(WORKER_SCRIPT)], worker_env)

    def human_waiting() -> bool:
        try:
            run = workflows.get_workflow(workflow_id, include_tasks=True)
        except ApiException as exc:  # a 202 start: not projected yet (the processor warms up)
            if exc.status == 404:
                return False
            raise
        by_ref = {t.reference_task_name: t.status for t in run.tasks or []}
        return (
            by_ref.get("double_ref") == "COMPLETED" and by_ref.get("approve_ref") == "IN_PROGRESS"
        )

    try:
        support.wait_until(human_waiting, 90, "the SDK worker to complete its task")
    except AssertionError:
        raise AssertionError(f"SDK worker did not complete the task\n{_logs(rt)}") from None

    tasks.update_task_by_ref_name(workflow_id, "approve_ref", "COMPLETED", {"by": "alice"})
    support.wait_until(
        lambda: workflows.get_workflow(workflow_id, include_tasks=False).status == "COMPLETED",
        30,
        "the workflow to complete",
    )

    run = workflows.get_workflow(workflow_id, include_tasks=True)
    assert run.output == {"doubled": 42, "secretLength": len(SECRET_VALUE), "approvedBy": "alice"}
    worked = next(t for t in run.tasks if t.reference_task_name == "double_ref")
    one = tasks.get_task(worked.task_id)
    assert (one.status, one.output_data["doubled"]) == ("COMPLETED", 42)
    assert one.worker_id  # the SDK's worker identity, recorded from its poll
    assert one.poll_count == 1
    assert SECRET_VALUE not in str(one.input_data)  # the read model keeps the placeholder
    support.wait_until(
        lambda: tasks.get_queue_size_for_task(task_name) == 0, 15, "the queue to be empty"
    )
    # Who did what, as the history records it: the keys' principals, never a client's claim.
    history = httpx.get(
        f"{api_url}/workflow/{workflow_id}/history",
        headers={"X-Authorization": f"{admin_id}.{admin_secret}"},
    ).json()
    actors = {(e["type"], e["actor"]) for e in history}
    assert ("WorkflowStarted", "api:sdk-admin") in actors
    assert ("TaskPickedUp", "worker:sdk-worker") in actors
    assert any(t == "TaskCompleted" and a == "worker:sdk-worker" for t, a in actors)
