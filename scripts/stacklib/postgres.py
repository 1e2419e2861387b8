"""The PostgreSQL half of the dev stack: a private cluster owned by an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import Settings, StackError, tail

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin",)
DB_NAME = "orchestrator"
DB_USER = "orchestrator"
FALLBACK_OS_USER = "kafka-orchestrator-pg"


@dataclass(frozen=True)
class OsUser:
    name: str
    uid: int
    gid: int


def pg_tool(name: str) -> str:
    """A PostgreSQL program, preferring the versioned directory over Debian's wrappers."""
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"`{name}` not found: install the PostgreSQL 15 server binaries")
    # Keep all tools from the same installation as initdb (e.g. /usr/local/bin symlinks).
    return found


def pid_file(settings: Settings) -> Path:
    return settings.state_dir / "postgres.pid"


def log_file(settings: Settings) -> Path:
    return settings.logs_dir / "postgres.log"


def run_as_user() -> OsUser | None:
    """PostgreSQL refuses to run as root: then use `postgres` (or create a system user)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                FALLBACK_OS_USER,
            ],
            check=False,
            capture_output=True,
        )
        try:
            entry = pwd.getpwnam(FALLBACK_OS_USER)
        except KeyError:
            raise StackError(
                "running as root but there is no `postgres` user and `useradd` failed; "
                "create an unprivileged user named postgres"
            ) from None
    return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _as_user(user: OsUser | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "cwd": "/"}


def _make_area(path: Path, user: OsUser | None) -> bool:
    """Create path for the server's files; True if the server's user can write there."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if user is None:
        return os.access(path, os.W_OK | os.X_OK)
    os.chown(path, user.uid, user.gid)
    path.chmod(0o700)
    # The user must also traverse every parent: /root is 0700, so a clone under it fails here.
    check = subprocess.run(["test", "-w", str(path)], check=False, **_as_user(user))  # type: ignore[call-overload]
    return bool(check.returncode == 0)


def area(settings: Settings, user: OsUser | None, recorded: str | None) -> Path:
    """The folder holding the data directory and the socket, decided once and then recorded."""
    if recorded:
        _make_area(Path(recorded), user)
        return Path(recorded)
    inside = settings.state_dir / "postgres"
    socket_path = inside / "run" / f".s.PGSQL.{settings.pg_port}"
    if len(str(socket_path)) < 100 and _make_area(inside, user):  # unix socket paths max ~107
        return inside
    shutil.rmtree(inside, ignore_errors=True)
    outside = Path(f"/var/tmp/kafka-orchestrator-{settings.short_hash}")
    if not _make_area(outside, user):
        raise StackError(f"cannot prepare a PostgreSQL data folder at {outside} for {user}")
    return outside


def stack_conf(settings: Settings, pg_area: Path) -> str:
    return f"""# Written by scripts/stack.py on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = {settings.pg_port}
unix_socket_directories = '{pg_area / "run"}'
max_connections = 200
shared_buffers = 256MB
# The read model is rebuildable from Kafka, so a lost last commit on a crash is harmless;
# fsync stays on so the cluster itself never corrupts.
synchronous_commit = off
fsync = on
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
"""


HBA_CONF = """# Written by scripts/stack.py: dev only, loopback and the private socket, no passwords.
local all all trust
host  all all 127.0.0.1/32 trust
"""


def prepare(settings: Settings, user: OsUser | None, pg_area: Path) -> None:
    """initdb once, then (re)write our config files so port changes take effect."""
    data, run = pg_area / "data", pg_area / "run"
    for folder in (data, run):
        folder.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            os.chown(folder, user.uid, user.gid)
    if not (data / "PG_VERSION").exists():
        init_log = settings.logs_dir / "postgres-initdb.log"
        cmd = [
            pg_tool("initdb"),
            "-D",
            str(data),
            "-U",
            DB_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        with init_log.open("w") as out:
            code = subprocess.run(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=180,
                check=False,
                **_as_user(user),
            ).returncode  # type: ignore[call-overload]
        if code != 0:
            raise StackError(f"initdb failed: {tail(init_log, 2)} (log: {init_log})")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'stack.conf'\n")
    for name, text in (("stack.conf", stack_conf(settings, pg_area)), ("pg_hba.conf", HBA_CONF)):
        (data / name).write_text(text)
        if user is not None:
            os.chown(data / name, user.uid, user.gid)


def start(settings: Settings, user: OsUser | None, pg_area: Path) -> int:
    """Start the postmaster detached; our file descriptor lets it log under a 0700 parent."""
    cmd = [pg_tool("postgres"), "-D", str(pg_area / "data")]
    with log_file(settings).open("a") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **_as_user(user),
        )  # type: ignore[call-overload]
    pid_file(settings).write_text(f"{proc.pid}\n")
    return int(proc.pid)


def is_ready(port: int) -> bool:
    cmd = [
        pg_tool("pg_isready"),
        "-q",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        DB_USER,
        "-d",
        "postgres",
        "-t",
        "2",
    ]
    return subprocess.run(cmd, check=False, capture_output=True).returncode == 0


def ensure_database(port: int) -> None:
    base = [
        pg_tool("psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        DB_USER,
        "-d",
        "postgres",
        "-tAc",
    ]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    found = subprocess.run(
        [*base, f"select 1 from pg_database where datname = '{DB_NAME}'"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if found.returncode != 0:
        raise StackError(f"PostgreSQL query failed: {found.stderr.strip()}")
    if found.stdout.strip() != "1":
        made = subprocess.run(
            [*base, f"create database {DB_NAME} owner {DB_USER}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if made.returncode != 0:
            raise StackError(f"creating database {DB_NAME} failed: {made.stderr.strip()}")
