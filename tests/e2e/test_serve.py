"""`orchestrator serve --demo` (what `make run` runs): healthy API, the demo completes, Ctrl-C
stops every component."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import readmodel_support as support
from tests.runtime_support import bootstrap

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e, pytest.mark.timeout(240)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def database_url() -> Iterator[str]:
    """A schema of its own: the read model, the key tables and their migrations stay in it."""
    base = support.database_url()
    schema = support.create_schema(base)
    try:
        yield support.schema_url(base, schema)
    finally:
        support.drop_schema(base, schema)


def test_serve_demo_runs_the_demo_to_completion_and_stops_on_ctrl_c(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        ORCHESTRATOR_KAFKA_BOOTSTRAP=bootstrap(),
        ORCHESTRATOR_TOPIC_PREFIX=f"serve-{uuid.uuid4().hex[:8]}",
        ORCHESTRATOR_API_PORT=str(port),
        ORCHESTRATOR_API_URL=api,
        ORCHESTRATOR_STATE_DIR=str(tmp_path / "state"),
        ORCHESTRATOR_DATABASE_URL=database_url,
    )
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--demo"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        workflow_id = _wait_for_demo_id(log_path, 120)
        key = _admin_key(log_path)
        assert (tmp_path / "state" / "admin.key").read_text().strip() == key
        assert httpx.get(f"{api}/api/workflow/{workflow_id}").status_code == 401
        health = httpx.get(f"{api}/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["components"]["kafka"]["healthy"]
        assert health.json()["components"]["postgres"]["healthy"]
        url = f"{api}/api/workflow/{workflow_id}"
        workflow = _wait_for_status(url, {"Authorization": f"Bearer {key}"}, "COMPLETED", 90)
        refs = [t["referenceTaskName"] for t in workflow["tasks"]]
        assert {"resize_small_ref", "resize_medium_ref", "resize_large_ref"} <= set(refs)
        watermark = [
            t["status"] for t in workflow["tasks"] if t["referenceTaskName"] == "watermark_ref"
        ]
        assert watermark == ["FAILED", "COMPLETED"]  # the flaky step was retried
    finally:
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        serve.wait(30)
    children = [int(pid) for pid in _pids_in(log_path)]
    alive = [pid for pid in children if _alive(pid)]
    assert not alive, f"components still running after Ctrl-C: {alive}"
    assert b"all components stopped" in log_path.read_bytes()


def _wait_for_demo_id(log_path: Path, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if "demo workflow started:" in line:
                return line.rsplit(" ", 1)[-1].strip()
            if "could not start the demo workflow" in line:
                raise AssertionError(line)
        time.sleep(0.5)
    raise AssertionError(f"no demo workflow within {timeout_s} s:\n{log_path.read_text()[-3000:]}")


def _admin_key(log_path: Path) -> str:
    """The admin key `serve` printed (the line after "admin key (...)")."""
    lines = log_path.read_text(errors="replace").splitlines()
    index = next(i for i, line in enumerate(lines) if "[serve] admin key (" in line)
    return lines[index + 1].removeprefix("[serve]").strip()


def _wait_for_status(url: str, headers: dict[str, str], status: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(url, params={"includeTasks": "true"}, headers=headers, timeout=5)
        if response.status_code == 200:
            body = response.json()
            if body["status"] == status:
                return body
        time.sleep(0.5)
    raise AssertionError(f"workflow not {status} within {timeout_s} s: {body.get('status')}")


def _pids_in(log_path: Path) -> list[str]:
    return [
        line.split("(pid ")[1].rstrip(")")
        for line in log_path.read_text(errors="replace").splitlines()
        if "[serve] started" in line and "(pid " in line
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as stopped
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
