"""A worker in another language: Conductor's Java SDK (org.conductoross:conductor-client 4.0.1,
unchanged; tests/java/worker) polls and completes tasks over the HTTP protocol against our
API, authenticated with a worker key that the SDK exchanges at POST /api/token (issue #19).

Built with Maven on first use (`mvn -o` when ~/.m2 already has everything, online otherwise);
real processor, projector and API processes on the real stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests import readmodel_support as support
from tests.auth_support import new_key
from tests.e2e.test_conductor_sdk import _logs, _spawn, stack  # noqa: F401 (fixture)
from tests.runtime_support import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

PROJECT = Path(__file__).resolve().parents[1] / "java" / "worker"
MAIN = "io.github.orchestrator.javaworker.JavaWorker"
WORKFLOWS = 3


def build() -> tuple[str, float]:
    """(classpath, seconds the build took) of the Java worker."""
    mvn = shutil.which("mvn")
    java = shutil.which("java")
    if mvn is None or java is None:
        pytest.fail("the Java worker test needs Maven and Java 17 (apt-get install maven)")
    began = time.monotonic()
    base = [mvn, "-q", "-B", "package", "-f", str(PROJECT / "pom.xml")]
    done = subprocess.run([*base, "-o"], capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a cold ~/.m2: fetch the SDK from Maven Central
        done = subprocess.run(base, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, f"mvn package failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    classpath = os.pathsep.join(
        [str(PROJECT / "target" / "classes"), str(PROJECT / "target/lib/*")]
    )
    return classpath, time.monotonic() - began


def test_the_conductor_java_sdk_completes_tasks_over_http(
    stack: tuple[Runtime, str, dict[str, str]],  # noqa: F811 (the fixture)
) -> None:
    classpath, took = build()
    print(f"java worker built in {took:.1f} s")
    rt, api_url, env = stack
    task_name = f"java_double_{uuid.uuid4().hex[:6]}"
    flow_name = f"java_flow_{uuid.uuid4().hex[:6]}"
    db = env["ORCHESTRATOR_DATABASE_URL"]
    admin = {"Authorization": f"Bearer {new_key(db, 'admin', 'java-admin')}"}
    worker_id, worker_secret = new_key(db, "worker", "java-worker", [task_name]).split(".", 1)
    api = httpx.Client(base_url=api_url, headers=admin, timeout=10)
    api.post("/metadata/taskdefs", json=[{"name": task_name, "responseTimeoutSeconds": 30}])
    flow = {
        "name": flow_name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": task_name,
                "taskReferenceName": "double_ref",
                "type": "SIMPLE",
                "inputParameters": {"n": "${workflow.input.n}"},
            }
        ],
        "outputParameters": {"doubled": "${double_ref.output.doubled}"},
    }
    assert api.post("/metadata/workflow", json=flow).status_code < 300
    support.wait_until(
        lambda: any(b"definitions loaded" in p.read_bytes() for p in rt.log_dir.glob("processor*")),
        60,
        "the processor to load the definitions",
    )
    ids = []
    for n in range(WORKFLOWS):
        started = api.post("/workflow", json={"name": flow_name, "version": 1, "input": {"n": n}})
        assert started.status_code < 300, started.text
        ids.append(started.text.strip('"'))
    worker_env = {
        **env,
        "CONDUCTOR_SERVER_URL": api_url,
        "CONDUCTOR_AUTH_KEY": worker_id,
        "CONDUCTOR_AUTH_SECRET": worker_secret,
        "TASK_TYPE": task_name,
        "COUNT": str(WORKFLOWS),
    }
    _spawn(rt, "java-worker", ["java", "-cp", classpath, MAIN], worker_env)
    java = rt.processes[-1]

    def finished() -> bool:
        runs = [api.get(f"/workflow/{wid}", params={"includeTasks": "false"}) for wid in ids]
        return all(r.status_code == 200 and r.json()["status"] == "COMPLETED" for r in runs)

    try:
        support.wait_until(finished, 150, "the Java worker's workflows to complete")
    except AssertionError:
        raise AssertionError(f"Java SDK worker did not complete the tasks\n{_logs(rt)}") from None
    for n, wid in enumerate(ids):
        run = api.get(f"/workflow/{wid}", params={"includeTasks": "true"}).json()
        assert run["output"] == {"doubled": 2 * n}
        (task,) = run["tasks"]
        assert task["outputData"]["worker"] == "java" and task["workerId"]
    assert java.wait(60) == 0, _logs(rt)
    # The worker's principal (its key, exchanged for a token by the SDK) did the work.
    history = api.get(f"/workflow/{ids[0]}/history").json()
    assert any(e["type"] == "TaskCompleted" and e["actor"] == "worker:java-worker" for e in history)
