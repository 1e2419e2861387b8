"""A schema registry of the tests' own, on a free loopback port, with its own data folder:

    with RegistryProcess(tmp_path) as registry:
        registry.url                                  # the base URL a Confluent client is given
        registry.stop(); registry.start()             # an outage, then the same ids again

Which registry: ``ORCHESTRATOR_TEST_REGISTRY`` = ``apicurio`` (Apicurio Registry, from the build
the stack keeps in ~/.cache/kafka-orchestrator/: scripts/stacklib/apicurio.py) or ``standin``
(scripts/registry_server.py). Unset: Apicurio when the stack runs
Apicurio (its ORCHESTRATOR_SCHEMA_REGISTRY_URL, from .stack/env, is a ccompat URL), otherwise
the stand-in, which needs no build and starts in under a second.

Each test starts its own (a registry holds the subjects and ids of one test), so CI
(``make test`` on a clean clone) needs nothing set up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "scripts" / "registry_server.py"
sys.path.insert(0, str(ROOT / "scripts"))

from stacklib import apicurio, registry  # noqa: E402
from stacklib.common import load_settings  # noqa: E402

KIND_VAR = "ORCHESTRATOR_TEST_REGISTRY"
DEADLINE_S = registry.READY_DEADLINE_S  # the stack's: seconds each kind may take to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_kind() -> str:
    raw = os.environ.get(KIND_VAR, "").strip().lower()
    if not raw:
        stack_url = os.environ.get("ORCHESTRATOR_SCHEMA_REGISTRY_URL", "")
        return "apicurio" if apicurio.CCOMPAT_PATH in stack_url else "standin"
    if raw not in DEADLINE_S:
        raise pytest.UsageError(f"{KIND_VAR}={raw!r}: expected apicurio or standin")
    return raw


class RegistryProcess:
    def __init__(self, data_dir: Path, kind: str | None = None) -> None:
        self.kind = kind or registry_kind()
        self.data = data_dir / "registry"
        self.port = free_port()
        self.url = registry.url_of(self.port, self.kind)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in_s = 0.0

    def _command(self) -> tuple[list[str], dict[str, str]]:
        if self.kind == "apicurio":
            jar = apicurio.runner_jar(load_settings())
            if not jar.exists():  # the build takes minutes: not within a test's timeout
                pytest.fail(
                    f"no Apicurio build at {jar}: `ORCHESTRATOR_STACK_REGISTRY=1 make stack-up` "
                    "or tests/integration/test_stack_registry.py makes it (once per machine)"
                )
            self.data.mkdir(parents=True, exist_ok=True)
            return apicurio.command(jar, self.port, self.data)
        argv = [sys.executable, str(SERVER), "--port", str(self.port)]
        return [*argv, "--data", str(self.data / "schemas.json")], dict(os.environ)

    def start(self) -> None:
        argv, env = self._command()
        began = time.monotonic()
        log = (self.data.parent / f"registry-{self.kind}.log").open("ab")
        with log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = began + DEADLINE_S[self.kind]
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/subjects", timeout=2).status_code == 200:
                    self.started_in_s = time.monotonic() - began
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"the schema registry ({self.kind}) did not answer on {self.url} within "
            f"{DEADLINE_S[self.kind]} s (log: {log.name})"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RegistryProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
