"""A schema registry of the tests' own (scripts/registry_server.py), on a free loopback port.

    with RegistryProcess(tmp_path) as registry:
        registry.url                                  # http://127.0.0.1:<port>
        registry.stop(); registry.start()             # an outage, then the same ids again

Each test starts its own, so CI (``make test`` on a clean clone) needs nothing set up.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SERVER = Path(__file__).resolve().parents[1] / "scripts" / "registry_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegistryProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data = data_dir / "registry" / "schemas.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in_s = 0.0

    def start(self) -> None:
        began = time.monotonic()
        argv = [sys.executable, str(SERVER), "--port", str(self.port), "--data", str(self.data)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = began + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/subjects", timeout=1).status_code == 200:
                    self.started_in_s = time.monotonic() - began
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"the schema registry did not answer on {self.url} within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RegistryProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
