"""Our server for a run: `orchestrator serve` on a free port, isolated on the shared stack.

Its own topic prefix and Postgres schema (so it never sees another run's records), its own
state directory; stopped (SIGTERM, then SIGKILL of its process group) and cleaned up after.
Needs ORCHESTRATOR_KAFKA_BOOTSTRAP and ORCHESTRATOR_DATABASE_URL (`. .stack/env`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg

from tests.conductor_spec.client import KEYS

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


class ServerError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ServerError(f"{name} is not set: source the stack's env first (. .stack/env)")
    return value


@contextlib.contextmanager
def our_server(log_dir: Path | None = None) -> Iterator[str]:
    """Start `orchestrator serve`; yields its base URL (without /api) once /health answers."""
    database = _env("ORCHESTRATOR_DATABASE_URL")
    bootstrap = _env("ORCHESTRATOR_KAFKA_BOOTSTRAP")
    tag = uuid.uuid4().hex[:10]
    schema, prefix = f"cdiff_{tag}", f"cdiff-{tag}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="conductor-diff-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    separator = "&" if "?" in database else "?"
    env = dict(os.environ)
    env.update(
        ORCHESTRATOR_KAFKA_BOOTSTRAP=bootstrap,
        ORCHESTRATOR_DATABASE_URL=f"{database}{separator}options="
        + quote(f"-csearch_path={schema}", safe=""),
        ORCHESTRATOR_TOPIC_PREFIX=prefix,
        ORCHESTRATOR_API_PORT=str(port),
        ORCHESTRATOR_API_URL=url,
        ORCHESTRATOR_STATE_DIR=str(log_dir / "state"),
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    log = open(log_dir / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(url, proc, log_dir)
        KEYS[url] = _admin_key(log_dir / "state" / "admin.key")  # what serve printed
        yield url
    finally:
        KEYS.pop(url, None)
        _stop(proc)
        log.close()
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        _delete_topics(bootstrap, prefix)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_dir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"orchestrator serve exited ({proc.returncode}); see {log_dir}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerError(f"orchestrator serve not healthy within {START_TIMEOUT_S:.0f} s: {log_dir}")


def _admin_key(path: Path) -> str:
    deadline = time.monotonic() + 30  # serve writes it right after the API is healthy
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.2)
    raise ServerError(f"orchestrator serve wrote no admin key to {path}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)  # serve stops its components itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything of its group still there
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _delete_topics(bootstrap: str, prefix: str) -> None:
    from orchestrator.kafka.admin import admin_client, delete_topics
    from orchestrator.kafka.security import kafka_access
    from orchestrator.settings import load_settings

    kafka = kafka_access(load_settings(overrides={"kafka_bootstrap": bootstrap}))
    names = admin_client(kafka).list_topics(timeout=10).topics
    mine = sorted(n for n in names if n.startswith((prefix + ".", prefix + "-")))
    if mine:
        delete_topics(kafka, mine, 15.0)
