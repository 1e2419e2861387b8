"""The real stack behind the UI tests, and helpers to fill it with executions.

One ``UiStack`` per test module: its own topic prefix and Postgres schema, a processor, a
projector and the API (``orchestrator api`` on a free loopback port), each a real subprocess,
exactly as an operator runs them. Workflows here use only tasks the processor runs itself
(INLINE, SET_VARIABLE, FORK_JOIN, DO_WHILE, SWITCH, SUB_WORKFLOW, HUMAN), so no worker is needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests import readmodel_support as support
from tests.auth_support import new_key
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import Runtime

T = TypeVar("T")

CHROMIUM = os.environ.get("ORCHESTRATOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_TIMEOUT_S = 120  # processor recovery and API start on a busy shared machine


@dataclass
class UiStack:
    rt: Runtime
    database_url: str  # with the test's schema as search_path
    base_url: str
    admin_key: str = ""  # what the browser and the test's client sign in with

    def env(self) -> dict[str, str]:
        return {**self.rt.env(), "ORCHESTRATOR_DATABASE_URL": self.database_url}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """An ``orchestrator`` subcommand as a subprocess, logged to <log_dir>/<name>.log."""
        log = open(self.rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *args],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.rt.processes.append(proc)
        return proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(log_dir: Path, label: str) -> tuple[UiStack, str]:
    """Start everything; returns the stack and its schema (for ``stop_stack``)."""
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"ui-{label}-{os.urandom(4).hex()}", log_dir=log_dir)
    rt.create_topics()
    port = free_port()
    stack = UiStack(rt, support.schema_url(base, schema), f"http://127.0.0.1:{port}")
    stack.start("processor", "processor")
    stack.start("projector", "projector")
    api = stack.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
    wait_until_ready(rt, "processor", 1, READY_TIMEOUT_S)
    _wait_api(stack, api)
    stack.admin_key = new_key(stack.database_url, "admin", "ui-tester")
    return stack, schema


def _wait_api(stack: UiStack, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the API exited; see {stack.rt.log_dir / 'api.log'}")
        try:
            if httpx.get(f"{stack.base_url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the API did not answer /health; see {stack.rt.log_dir / 'api.log'}")


def stop_stack(stack: UiStack, schema: str) -> None:
    stack.rt.stop_all()
    stack.rt.delete_topics()
    support.drop_schema(support.database_url(), schema)


def screenshot_dir(default: Path) -> Path:
    """ORCHESTRATOR_UI_SCREENSHOTS, or ``default`` (a folder of pytest's temporary directory)."""
    wanted = os.environ.get("ORCHESTRATOR_UI_SCREENSHOTS")
    path = Path(wanted) if wanted else default
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- filling the stack ----------------------------------------------------------------------


def inline(ref: str, expression: str, **inputs: Any) -> dict[str, Any]:
    """An INLINE (javascript) task; ``$`` is its input."""
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": expression, **inputs},
    }


# Doubles input n, or throws (the workflow FAILS) when input fail is true. A retry re-runs it
# with the same input, so it fails again, as a new attempt of the task.
CALC = inline(
    "calc",
    "(function () { if ($.fail) throw new Error('boom: asked to fail'); return $.n * 2; })()",
    fail="${workflow.input.fail}",
    n="${workflow.input.n}",
)


def register(api: httpx.Client, *definitions: dict[str, Any]) -> None:
    for definition in definitions:
        response = api.post("/api/metadata/workflow", json=definition, params={"overwrite": True})
        assert response.status_code == 200, response.text


def start_workflow(
    api: httpx.Client, name: str, workflow_input: dict[str, Any], correlation_id: str | None = None
) -> str:
    body: dict[str, Any] = {"name": name, "input": workflow_input}
    if correlation_id:
        body["correlationId"] = correlation_id
    response = api.post("/api/workflow", json=body)
    assert response.status_code == 200, response.text
    return response.text


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 60) -> T:
    """Poll ``probe`` until it returns something truthy (the machine is shared: be patient)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def wait_status(api: httpx.Client, workflow_id: str, *statuses: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        got: dict[str, Any] = api.get(f"/api/workflow/{workflow_id}").json()
        return got if got.get("status") in statuses else None

    return eventually(probe, f"workflow {workflow_id} to be {'/'.join(statuses)}")


def wait_indexed(api: httpx.Client, query: str, count: int) -> list[dict[str, Any]]:
    """Until a search with ``query`` finds ``count`` workflows (the read model caught up)."""

    def probe() -> list[dict[str, Any]] | None:
        got = api.get("/api/workflow/search", params={"query": query, "size": 1000}).json()
        results: list[dict[str, Any]] = got.get("results", [])
        return results if got.get("totalHits") == count else None

    return eventually(probe, f"{count} workflows matching {query!r}")


def showcase(name: str = "ui_showcase") -> dict[str, Any]:
    """Every control-flow shape the UI draws: SET_VARIABLE, FORK_JOIN + JOIN, DO_WHILE, SWITCH."""
    return {
        "name": name,
        "version": 1,
        "description": "fork, loop and switch over inline tasks",
        "tasks": [
            {
                "name": "remember",
                "taskReferenceName": "remember",
                "type": "SET_VARIABLE",
                "inputParameters": {"kind": "${workflow.input.kind}"},
            },
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [inline("left", "$.n + 1", n="${workflow.input.n}")],
                    [inline("right", "$.n - 1", n="${workflow.input.n}")],
                ],
            },
            {
                "name": "join",
                "taskReferenceName": "join",
                "type": "JOIN",
                "joinOn": ["left", "right"],
            },
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 2",
                "loopOver": [inline("step", "'step'")],
            },
            {
                "name": "route",
                "taskReferenceName": "route",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "kind",
                "inputParameters": {"kind": "${workflow.input.kind}"},
                "decisionCases": {"big": [inline("big", "'big'")]},
                "defaultCase": [inline("small", "'small'")],
            },
        ],
        "outputParameters": {"left": "${left.output.result}", "kind": "${workflow.variables.kind}"},
    }
