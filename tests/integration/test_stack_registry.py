"""The stack's schema registry (ORCHESTRATOR_STACK_REGISTRY=1, i.e. Apicurio Registry, and
=standin): started, written into the env file, reported by status, kept across a restart with
the same ids, stopped. On a stack folder of its own (a temporary state dir and free ports), never
the shared stack. The Apicurio case builds Apicurio into ~/.cache/kafka-orchestrator/ when no
build is there yet (a few minutes, once per machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.registry_support import free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stacklib import apicurio, registry  # noqa: E402
from stacklib.common import load_settings  # noqa: E402

# Seconds to answer: the stand-in is a small Python server; Apicurio a Quarkus JVM app.
STARTS_WITHIN_S = {"standin": 10, "1": 120}


@pytest.fixture(
    params=[
        "standin",
        # Apicurio: the first run on a machine builds it (Maven, up to its timeout), then starts.
        pytest.param("1", marks=pytest.mark.timeout(apicurio.MVN_TIMEOUT_S + 300)),
    ]
)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "ORCHESTRATOR_STACK_STATE_DIR": str(tmp_path / "stack"),
        "ORCHESTRATOR_STACK_REGISTRY": request.param,
        "ORCHESTRATOR_STACK_REGISTRY_PORT": str(free_port()),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_the_stack_starts_keeps_and_stops_its_registry(env: dict[str, str]) -> None:
    import stack  # scripts/stack.py

    s = load_settings()
    if env["ORCHESTRATOR_STACK_REGISTRY"] == "1":
        apicurio.ensure_app(s)  # the first build is not part of the start
    port, took = registry.start(s)
    try:
        within = STARTS_WITHIN_S[env["ORCHESTRATOR_STACK_REGISTRY"]]
        assert port == int(env["ORCHESTRATOR_STACK_REGISTRY_PORT"]) and 0 < took < within
        url = registry.url(s)
        kind = "standin" if env["ORCHESTRATOR_STACK_REGISTRY"] == "standin" else "apicurio"
        assert registry.recorded_kind(s) == kind
        assert url.endswith("/apis/ccompat/v7") == (kind == "apicurio")
        assert f"export ORCHESTRATOR_SCHEMA_REGISTRY_URL={url}\n" in stack.env_text(s)
        body = {"schema": '{"type": "record", "name": "a.B", "fields": []}'}
        first = httpx.post(f"{url}/subjects/a.B/versions", json=body).json()["id"]
        assert registry.start(s) == (port, 0.0)  # already running: nothing started
        registry.stop(s)
        assert not registry.answers(url) and registry.running(s) is None
        assert "SCHEMA_REGISTRY" not in stack.env_text(s)
        registry.start(s)
        assert httpx.post(f"{url}/subjects/a.B", json=body).json()["id"] == first
        status = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "stack.py"), "status"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=30,
            check=False,
        )
        assert f"registry  up    {url}" in status.stdout
    finally:
        registry.stop(replace(s))
