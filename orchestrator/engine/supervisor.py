"""`orchestrator serve`: every component as a child process, restarted if it dies, stopped together.

Separate processes rather than one event loop: each component is exactly what runs alone in
production (`orchestrator processor`, ...), a crash of one never takes the others down, and the
two cores of a small machine are both used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from orchestrator.settings import Settings, env_name

RESTART_BACKOFF_S = (1, 2, 5, 10, 30)
STOP_GRACE_S = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    history: list[float] = field(default_factory=list)


def components(demo: bool) -> list[Child]:
    exe = [sys.executable, "-m", "orchestrator"]
    children = [
        Child("processor", [*exe, "processor"]),
        Child("gate", [*exe, "gate"]),  # rate/concurrency limits, priority (ADR 0006)
        Child("projector", [*exe, "projector"]),
        Child("api", [*exe, "api"]),
        Child("system-worker", [*exe, "worker", "--system"]),
        Child("event-handlers", [*exe, "event-handlers"]),  # Conductor's event handlers (ADR 0009)
    ]
    if demo:
        children.append(Child("demo-worker", [*exe, "worker", "orchestrator.demo.workers"]))
    return children


def child_env(settings: Settings) -> dict[str, str]:
    """The effective settings as ORCHESTRATOR_* variables, so CLI flags reach the children."""
    env = dict(os.environ)
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(value)
        env[env_name(f.name)] = str(value)
    env.pop(env_name("processor_id"), None)  # each child derives its own id
    env.pop(env_name("worker_id"), None)
    return env


class Supervisor:
    def __init__(self, settings: Settings, children: list[Child], log: Callable[[str], None]):
        self.settings = settings
        self.children = children
        self.log = log
        self.env = child_env(settings)
        self.stopping = False

    def start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.history.append(time.monotonic())
        self.log(f"started {child.name} (pid {child.proc.pid})")

    def poll(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.next_start:
                    self.start(child)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            delay = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
            self.log(f"{child.name} exited with status {code}; restarting in {delay} s")
            child.proc = None
            child.restarts += 1
            child.next_start = now + delay

    def stop(self) -> None:
        self.stopping = True
        live = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in live:
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
                _signal(child, signal.SIGKILL)
                child.proc.wait()
        self.log("all components stopped")


def _signal(child: Child, sig: int) -> None:
    assert child.proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.proc.pid, sig)


def serve(settings: Settings, demo: bool = False) -> int:
    def log(message: str) -> None:
        print(f"[serve] {message}", flush=True)

    supervisor = Supervisor(settings, components(demo), log)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for child in supervisor.children:
            supervisor.start(child)
        if not _wait_healthy(settings, supervisor, timeout_s=90):
            log("the API did not become healthy within 90 s; see the output above")
            return 1
        log(f"API and UI: {settings.api_url}  (OpenAPI at {settings.api_url}/docs)")
        if demo:
            from orchestrator.demo.setup import start_demo

            try:
                workflow_id = start_demo(settings.api_url)
            except Exception as exc:  # the services keep running; say what went wrong
                log(f"could not start the demo workflow: {exc}")
            else:
                log(f"demo workflow started: {workflow_id}")
                log(f"  {settings.api_url}/api/workflow/{workflow_id}?includeTasks=true")
        log("press Ctrl-C to stop")
        while True:
            supervisor.poll()
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping...")
        return 0
    finally:
        supervisor.stop()


def _wait_healthy(settings: Settings, supervisor: Supervisor, timeout_s: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.poll()
        try:
            if httpx.get(f"{settings.api_url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False
