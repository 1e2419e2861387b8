"""`orchestrator serve`: every component as a child process, restarted if it dies, stopped together.

Separate processes rather than one event loop: each component is exactly what runs alone in
production (`orchestrator processor`, ...), a crash of one never takes the others down, and the
two cores of a small machine are both used.

Failover (issue #15, docs/operations.md): the components that own partitions (processor, gate,
projector) get a static instance id per slot, ``<host>-<supervisor pid>-<name>`` (unique to
this supervisor, stable across its restarts of the child), and a warm standby
(orchestrator/standby.py) that is activated the moment the active child exits, so a restart
neither waits for Python's start-up nor for a rebalance. A child that ran for ``STABLE_S``
is restarted at once; one that keeps crashing backs off. A child fenced by another process
with its instance id (``EXIT_FENCED``) is not restarted: that would fence the other in turn.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.kafka.clients import EXIT_FENCED
from orchestrator.settings import Settings, env_name
from orchestrator.settings_types import raw
from orchestrator.standby import ACTIVATE, STANDBY_ENV

RESTART_BACKOFF_S = (0, 1, 2, 5, 10, 30)
STABLE_S = 60.0  # a child that ran this long before it died is restarted at once
STANDBY_AFTER_S = 5.0  # a new spare starts this long after the last one took over
STOP_GRACE_S = 10.0
POLL_S = 0.2


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    history: list[float] = field(default_factory=list)
    owns_partitions: bool = False  # gets an instance id and a warm standby
    standby: subprocess.Popen[bytes] | None = None
    next_standby: float = 0.0
    fenced: bool = False


def components(demo: bool) -> list[Child]:
    exe = [sys.executable, "-m", "orchestrator"]
    children = [
        Child("processor", [*exe, "processor"], owns_partitions=True),
        # rate/concurrency limits, priority (ADR 0006)
        Child("gate", [*exe, "gate"], owns_partitions=True),
        Child("projector", [*exe, "projector"], owns_partitions=True),
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
    for name in settings.field_names():
        value = getattr(settings, name)
        if value is not None:
            env[env_name(name)] = raw(value)  # secrets too: the children need them
    env.pop(env_name("processor_id"), None)  # each child derives its own id
    env.pop(env_name("worker_id"), None)
    env.pop(env_name("instance_id"), None)  # one per slot (Supervisor.env_of)
    return env


def instance_id(child: Child, supervisor_pid: int | None = None) -> str:
    """The slot's static group member id: unique to this supervisor, stable across restarts."""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())
    return f"{host}-{supervisor_pid or os.getpid()}-{child.name}"


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        children: list[Child],
        log: Callable[[str], None],
        standby: bool = True,
    ):
        self.settings = settings
        self.children = children
        self.log = log
        self.env = child_env(settings)
        self.standby = standby
        self.stopping = False

    def env_of(self, child: Child) -> dict[str, str]:
        if not child.owns_partitions:
            return self.env
        return {**self.env, env_name("instance_id"): instance_id(child)}

    def start(self, child: Child) -> None:
        spare, child.standby = child.standby, None
        if spare is not None and spare.poll() is None and _activate(spare):
            child.proc = spare
            self.log(f"activated the {child.name} standby (pid {spare.pid})")
        else:
            child.proc = subprocess.Popen(
                child.argv, env=self.env_of(child), start_new_session=True
            )
            self.log(f"started {child.name} (pid {child.proc.pid})")
        child.history.append(time.monotonic())
        child.next_standby = time.monotonic() + STANDBY_AFTER_S

    def start_standby(self, child: Child) -> None:
        env = {**self.env_of(child), STANDBY_ENV: "1"}
        child.standby = subprocess.Popen(
            child.argv, env=env, stdin=subprocess.PIPE, start_new_session=True
        )
        self.log(f"started {child.name} standby (pid {child.standby.pid})")

    def poll(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.next_start and not child.fenced:
                    self.start(child)
            elif (code := child.proc.poll()) is not None:
                self._exited(child, code, now)
            self._keep_standby(child, now)

    def _exited(self, child: Child, code: int, now: float) -> None:
        child.proc = None
        if code == EXIT_FENCED:
            child.fenced = True
            self.log(
                f"{child.name} exited: fenced by another process with its instance id "
                f"({instance_id(child)}); not restarting it"
            )
            return
        if child.history and now - child.history[-1] >= STABLE_S:
            child.restarts = 0  # it ran well: this is no crash loop
        delay = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
        self.log(f"{child.name} exited with status {code}; restarting in {delay} s")
        child.restarts += 1
        child.next_start = now + delay
        if delay == 0:
            self.start(child)

    def _keep_standby(self, child: Child, now: float) -> None:
        if not (self.standby and child.owns_partitions) or child.fenced:
            return
        if child.standby is not None and child.standby.poll() is not None:
            self.log(f"{child.name} standby exited with status {child.standby.returncode}")
            child.standby = None
            child.next_standby = now + STANDBY_AFTER_S
        if child.standby is None and now >= child.next_standby:
            self.start_standby(child)

    def stop(self) -> None:
        self.stopping = True
        for child in self.children:
            if child.standby is not None:
                _release(child.standby)
        live = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in live:
            _signal(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{child.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
                _signal(child.proc, signal.SIGKILL)
                child.proc.wait()
        for child in self.children:
            if child.standby is not None:
                _stop_spare(child.standby)
                child.standby = None
        self.log("all components stopped")


def _activate(spare: subprocess.Popen[bytes]) -> bool:
    try:
        assert spare.stdin is not None
        spare.stdin.write(ACTIVATE)
        spare.stdin.close()
        return True
    except (BrokenPipeError, OSError):  # it died meanwhile: start a fresh one instead
        return False


def _release(spare: subprocess.Popen[bytes]) -> None:
    """A standby reads EOF and exits 0 (it never joined anything)."""
    with contextlib.suppress(OSError):
        assert spare.stdin is not None
        spare.stdin.close()


def _stop_spare(spare: subprocess.Popen[bytes]) -> None:
    try:
        spare.wait(2.0)
    except subprocess.TimeoutExpired:  # still importing: it has nothing to lose
        _signal(spare, signal.SIGKILL)
        spare.wait()


def _signal(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    assert proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def serve(settings: Settings, demo: bool = False) -> int:
    def log(message: str) -> None:
        print(f"[serve] {message}", flush=True)

    supervisor = Supervisor(settings, components(demo), log, standby=settings.serve_standby)

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
        key = _admin_key(settings, log)
        if demo:
            from orchestrator.demo.setup import start_demo

            try:
                workflow_id = start_demo(settings.api_url, key=key)
            except Exception as exc:  # the services keep running; say what went wrong
                log(f"could not start the demo workflow: {exc}")
            else:
                log(f"demo workflow started: {workflow_id}")
                log(f"  {settings.api_url}/api/workflow/{workflow_id}?includeTasks=true")
        log("press Ctrl-C to stop")
        while True:
            supervisor.poll()
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        log("stopping...")
        return 0
    finally:
        supervisor.stop()


def _admin_key(settings: Settings, log: Callable[[str], None]) -> str | None:
    """The local admin key, printed for the UI's prompt (None when authentication is off)."""
    if not settings.auth:
        log("authentication is OFF (ORCHESTRATOR_AUTH=off): no key needed, none created")
        return None
    from orchestrator.auth.local import key_file, local_admin_key

    key, created = local_admin_key(settings)
    how = "created for this stack" if created else "kept from a previous run"
    log(f"admin key ({how}, in {key_file(settings)}; the UI asks for it once):")
    log(f"  {key}")
    return key


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
