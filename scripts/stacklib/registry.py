"""The stack's schema registry, when ``ORCHESTRATOR_STACK_REGISTRY=1``: scripts/registry_server.py
(a Confluent-API stand-in, docs/adr/0013-schema-registry.md) on 127.0.0.1:18081
(``ORCHESTRATOR_STACK_REGISTRY_PORT``), schemas kept in .stack/registry/schemas.json across
restarts (ids travel in records forever). stack.py writes ORCHESTRATOR_SCHEMA_REGISTRY_URL into
.stack/env while it runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from stacklib.common import (
    PROJECT_ROOT,
    Settings,
    StackError,
    ensure_ports_free,
    owned_process,
    stop_processes,
    tail,
    wait_until,
)

SERVER = PROJECT_ROOT / "scripts" / "registry_server.py"
PORT_VAR = "ORCHESTRATOR_STACK_REGISTRY_PORT"
DEFAULT_PORT = 18081
READY_DEADLINE_S = 30


def wanted(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("ORCHESTRATOR_STACK_REGISTRY", "").strip().lower() in ("1", "true", "yes", "on")


def port(environ: dict[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(PORT_VAR, "").strip()
    if raw and not (raw.isdigit() and 0 < int(raw) < 65536):
        raise StackError(f"{PORT_VAR}={raw!r} is not a TCP port number (1-65535)")
    return int(raw or DEFAULT_PORT)


def pid_file(s: Settings) -> Path:
    return s.state_dir / "registry.pid"


def data_file(s: Settings) -> Path:
    return s.state_dir / "registry" / "schemas.json"


def running(s: Settings) -> int | None:
    return owned_process(pid_file(s), str(SERVER))


def url_of(p: int) -> str:
    return f"http://127.0.0.1:{p}"


def answers(p: int) -> bool:
    try:
        with urllib.request.urlopen(f"{url_of(p)}/subjects", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def recorded_port(s: Settings) -> int | None:
    try:
        return int(pid_file(s).read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def start(s: Settings) -> tuple[int, float]:
    """(port, seconds to answer) of a registry started now (or already running)."""
    pid = running(s)
    if pid:
        return recorded_port(s) or port(), 0.0
    p = port()
    ensure_ports_free([(p, PORT_VAR, "schema registry")])
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with (s.logs_dir / "registry.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(p), "--data", str(data_file(s))],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(s).write_text(f"{proc.pid} {p}\n")
    if not wait_until(lambda: answers(p), READY_DEADLINE_S, lambda: proc.poll() is None):
        raise StackError(
            f"the schema registry did not answer on {url_of(p)} within {READY_DEADLINE_S} s: "
            f"{tail(s.logs_dir / 'registry.log')}"
        )
    return p, time.monotonic() - began


def stop(s: Settings) -> int:
    pid = running(s)
    if pid:
        os.kill(pid, signal.SIGTERM)
        try:  # our own child (this process started it): reap it, or it lingers as a zombie
            os.waitpid(pid, 0)
        except ChildProcessError:
            stop_processes([pid], [pid], signal.SIGTERM, 10)
    pid_file(s).unlink(missing_ok=True)
    return 1 if pid else 0
