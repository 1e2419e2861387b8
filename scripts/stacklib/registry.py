"""The stack's schema registry, when ``ORCHESTRATOR_STACK_REGISTRY`` asks for one:

- ``1`` (or ``apicurio``): Apicurio Registry (stacklib/apicurio.py), built once with Maven, its
  Confluent-compatible API at http://127.0.0.1:18081/apis/ccompat/v7, schemas in
  .stack/registry/apicurio/ (an H2 database file);
- ``standin``: scripts/registry_server.py, the project's Confluent-API stand-in (starts in under
  a second, no Maven build), schemas in .stack/registry/schemas.json.

Port: ``ORCHESTRATOR_STACK_REGISTRY_PORT`` (18081). Ids survive restarts either way (they travel
in records forever). stack.py writes ORCHESTRATOR_SCHEMA_REGISTRY_URL into .stack/env while it
runs (docs/adr/0013-schema-registry.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from stacklib import apicurio
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
KIND_VAR = "ORCHESTRATOR_STACK_REGISTRY"
PORT_VAR = "ORCHESTRATOR_STACK_REGISTRY_PORT"
DEFAULT_PORT = 18081
APICURIO, STANDIN = "apicurio", "standin"
KINDS = {"1": APICURIO, "true": APICURIO, "yes": APICURIO, "on": APICURIO}
KINDS |= {APICURIO: APICURIO, STANDIN: STANDIN}
OFF = ("", "0", "false", "no", "off")
# Seconds to answer: the stand-in takes under one; Apicurio (a Quarkus JVM app) 7-40 on a
# loaded 2-core machine.
READY_DEADLINE_S = {STANDIN: 30, APICURIO: 180}


def kind(environ: dict[str, str] | None = None) -> str | None:
    """The registry asked for (APICURIO or STANDIN), or None."""
    raw = (os.environ if environ is None else environ).get(KIND_VAR, "").strip().lower()
    if raw in OFF:
        return None
    if raw not in KINDS:
        raise StackError(f"{KIND_VAR}={raw!r}: expected 1 (= {APICURIO}), {APICURIO} or {STANDIN}")
    return KINDS[raw]


def wanted(environ: dict[str, str] | None = None) -> bool:
    return kind(environ) is not None


def port(environ: dict[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(PORT_VAR, "").strip()
    if raw and not (raw.isdigit() and 0 < int(raw) < 65536):
        raise StackError(f"{PORT_VAR}={raw!r} is not a TCP port number (1-65535)")
    return int(raw or DEFAULT_PORT)


def pid_file(s: Settings) -> Path:
    return s.state_dir / "registry.pid"


def data_file(s: Settings) -> Path:
    """The stand-in's schemas."""
    return s.state_dir / "registry" / "schemas.json"


def apicurio_dir(s: Settings) -> Path:
    """Apicurio's H2 database."""
    return s.state_dir / "registry" / "apicurio"


def _recorded(s: Settings) -> tuple[int, str] | None:
    """(port, kind) written by start; files of older versions name no kind: the stand-in."""
    try:
        fields = pid_file(s).read_text().split()
        return int(fields[1]), (fields[2] if len(fields) > 2 else STANDIN)
    except (OSError, ValueError, IndexError):
        return None


def running(s: Settings) -> int | None:
    recorded = _recorded(s)
    if recorded is None:
        return None
    marker = str(apicurio.runner_jar(s)) if recorded[1] == APICURIO else str(SERVER)
    return owned_process(pid_file(s), marker)


def recorded_port(s: Settings) -> int | None:
    recorded = _recorded(s)
    return recorded[0] if recorded else None


def recorded_kind(s: Settings) -> str | None:
    recorded = _recorded(s)
    return recorded[1] if recorded else None


def url_of(p: int, which: str = STANDIN) -> str:
    """The base URL a Confluent client is given."""
    root = f"http://127.0.0.1:{p}"
    return root + apicurio.CCOMPAT_PATH if which == APICURIO else root


def url(s: Settings) -> str:
    """The running (or asked-for) registry's base URL."""
    return url_of(recorded_port(s) or port(), recorded_kind(s) or kind() or STANDIN)


def where(s: Settings) -> str:
    """Where its schemas are kept."""
    return str(apicurio_dir(s) if recorded_kind(s) == APICURIO else data_file(s))


def answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/subjects", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(s: Settings) -> tuple[int, float]:
    """(port, seconds to answer) of a registry started now (or already running)."""
    which = kind() or STANDIN
    if running(s):
        if recorded_kind(s) != which:
            raise StackError(
                f"the schema registry runs {recorded_kind(s)}, {KIND_VAR} asks for {which}: "
                "`make stack-down` first"
            )
        return recorded_port(s) or port(), 0.0
    p = port()
    ensure_ports_free([(p, PORT_VAR, "schema registry")])
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    if which == APICURIO:
        apicurio_dir(s).mkdir(parents=True, exist_ok=True)
        argv, env = apicurio.command(apicurio.ensure_app(s), p, apicurio_dir(s))
    else:
        argv = [sys.executable, str(SERVER), "--port", str(p), "--data", str(data_file(s))]
        env = dict(os.environ)
    began = time.monotonic()
    with (s.logs_dir / "registry.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    pid_file(s).write_text(f"{proc.pid} {p} {which}\n")
    base = url_of(p, which)
    deadline = READY_DEADLINE_S[which]
    if not wait_until(lambda: answers(base), deadline, lambda: proc.poll() is None):
        stop(s)
        raise StackError(
            f"the schema registry ({which}) did not answer on {base} within {deadline} s: "
            f"{tail(s.logs_dir / 'registry.log')}"
        )
    return p, time.monotonic() - began


def stop(s: Settings) -> int:
    pid = running(s)
    if pid:
        stop_processes([pid], [pid], signal.SIGTERM, 20)  # then SIGKILL
        with contextlib.suppress(ChildProcessError):  # our own child: reap it, no zombie left
            os.waitpid(pid, 0)
    pid_file(s).unlink(missing_ok=True)
    return 1 if pid else 0
