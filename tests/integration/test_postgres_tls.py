"""ORCHESTRATOR_DATABASE_URL with a password and TLS, against a PostgreSQL that demands both.

The shared stack's PostgreSQL trusts loopback (dev only), so it cannot tell a right password
from a wrong one. This module starts a private cluster with the stack's own scripts
(scripts/stacklib/postgres.py: initdb, a free port) and then locks it down: `hostssl` only,
`scram-sha-256` passwords, a server certificate of the stack's CA (scripts/stacklib/tls.py).
The API, the migrations and the keys CLI then work through a URL such as
``postgresql://orchestrator:PW@127.0.0.1:PORT/orchestrator?sslmode=verify-full&sslrootcert=ca``,
and the same URL with a wrong password, or without TLS, is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from orchestrator.api.app import create_app
from projections.migrate import migrate_url
from tests import readmodel_support as support
from tests.auth_support import bearer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from stacklib import postgres as pg  # noqa: E402
from stacklib.common import Settings as StackSettings  # noqa: E402
from stacklib.tls import ensure_pki  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]

PASSWORD = "s3cret:with@odd/chars"  # percent-encoded in the URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LockedDown:
    port: int
    ca: Path

    def url(self, password: str = PASSWORD, ssl: str = "verify-full") -> str:
        return (
            f"postgresql://{pg.DB_USER}:{quote(password, safe='')}@127.0.0.1:{self.port}/"
            f"{pg.DB_NAME}?sslmode={ssl}&sslrootcert={self.ca}&connect_timeout=5"
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockedDown]:
    state = tmp_path_factory.mktemp("pg-tls")
    s = StackSettings(state_dir=state, cache_dir=state, kafka_port=1, controller_port=2,
                      pg_port=_free_port(), api_port=3)  # fmt: skip
    s.logs_dir.mkdir(parents=True)
    user = pg.run_as_user()
    area = pg.area(s, user, None)
    pki = ensure_pki(state / "tls")
    pg.prepare(s, user, area)
    pid = pg.start(s, user, area)
    try:
        _wait(lambda: pg.is_ready(s.pg_port), "PostgreSQL to start")
        pg.ensure_database(s.pg_port)
        trusted = f"postgresql://{pg.DB_USER}@127.0.0.1:{s.pg_port}/{pg.DB_NAME}"
        with psycopg.connect(trusted, autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            alter = sql.SQL("ALTER ROLE {} PASSWORD {}")  # DDL takes no parameters
            conn.execute(alter.format(sql.Identifier(pg.DB_USER), sql.Literal(PASSWORD)))
        _lock_down(area / "data", pki, user)
        os.kill(pid, signal.SIGHUP)  # reload: pg_hba.conf and the ssl settings
        _wait(lambda: _refuses_plain(s.pg_port), "the locked-down configuration to load")
        yield LockedDown(s.pg_port, pki.ca)
    finally:
        os.kill(pid, signal.SIGINT)
        try:
            _wait(lambda: not _alive(pid), "PostgreSQL to stop", 30)
        finally:
            shutil.rmtree(area, ignore_errors=True)


def _lock_down(data: Path, pki: object, user: pg.OsUser | None) -> None:
    for name, source in (("server.crt", pki.server_cert), ("server.key", pki.server_key)):  # type: ignore[attr-defined]
        shutil.copy(source, data / name)
        (data / name).chmod(0o600)
        if user is not None:
            os.chown(data / name, user.uid, user.gid)
    with (data / "stack.conf").open("a") as conf:
        conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 reject\n"
    )


def _refuses_plain(port: int) -> bool:
    try:
        psycopg.connect(
            f"postgresql://{pg.DB_USER}@127.0.0.1:{port}/{pg.DB_NAME}?sslmode=disable",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError:
        return True
    return False


def _alive(pid: int) -> bool:
    try:  # the postmaster is our child: reap it once it exits
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def _wait(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_password_and_verified_tls_let_the_migrations_in(cluster: LockedDown) -> None:
    migrate_url(cluster.url())
    with psycopg.connect(cluster.url()) as conn:
        ssl, = conn.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() or (None,)  # fmt: skip
        assert ssl is True
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)


def test_a_wrong_password_or_no_tls_is_refused(cluster: LockedDown) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(cluster.url(password="wrong")).close()
    with pytest.raises(psycopg.OperationalError, match=r"no encryption|reject"):
        psycopg.connect(cluster.url(ssl="disable")).close()


def test_the_keys_cli_and_the_api_work_through_that_url_and_never_print_the_password(
    cluster: LockedDown,
) -> None:
    env = {**os.environ, "ORCHESTRATOR_DATABASE_URL": cluster.url()}
    created = subprocess.run(
        [sys.executable, "-m", "orchestrator", "keys", "create", "--role", "admin",
         "--principal", "tls-admin"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    listed = subprocess.run(
        [sys.executable, "-m", "orchestrator", "settings"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert PASSWORD not in listed.stdout and quote(PASSWORD, safe="") not in listed.stdout
    assert f"{pg.DB_USER}:***@127.0.0.1" in listed.stdout

    settings = support.settings_for(cluster.url(), f"test-pgtls-{os.urandom(4).hex()}")
    try:
        with TestClient(create_app(settings)) as client:
            health = client.get("/health").json()
            assert health["components"]["postgres"]["healthy"] is True, health
            who = client.get("/api/token/userInfo", headers=bearer(key))
            assert who.status_code == 200 and who.json()["id"] == "tls-admin"
    finally:
        support.remove_topics(settings)
