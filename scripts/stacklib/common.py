"""Shared pieces of the dev stack: settings, errors, ports and process handling."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class StackError(Exception):
    """A problem the user can fix; stack.py prints it as one line and exits non-zero."""


@dataclass(frozen=True)
class Settings:
    """Where the stack lives and which ports it wants (env overrides, see docs/stack.md)."""

    state_dir: Path
    cache_dir: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    api_port: int
    kafka_ssl_port: int = 19094  # the mutual-TLS listener of a secured broker
    kafka_security: str = "plaintext"  # or "sasl_ssl": see stacklib/kafka_secure.py
    # A secured broker also takes OAUTHBEARER tokens of this issuer (its JWKS URL), when set.
    kafka_oauth_jwks_url: str = ""
    kafka_oauth_issuer: str = ""
    kafka_oauth_audience: str = ""
    # Kafka nodes (KRaft, each a broker and a controller); node n > 1 listens PORT_STEP * (n-1)
    # above node 1's ports. With several, topics get replication min(3, brokers).
    brokers: int = 1

    @property
    def nodes(self) -> range:
        return range(1, self.brokers + 1)

    def broker_port(self, node: int) -> int:
        return self.kafka_port + PORT_STEP * (node - 1)

    def node_controller_port(self, node: int) -> int:
        return self.controller_port + PORT_STEP * (node - 1)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(n)}" for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, self.brokers)

    @property
    def min_insync_replicas(self) -> int:
        return max(1, self.replication_factor - 1)

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def short_hash(self) -> str:
        # Names the out-of-tree Postgres area; one per state folder, stable across runs.
        return hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:10]


PORT_VARS = {
    "kafka_port": ("ORCHESTRATOR_STACK_KAFKA_PORT", 19092),
    "controller_port": ("ORCHESTRATOR_STACK_CONTROLLER_PORT", 19093),
    "pg_port": ("ORCHESTRATOR_STACK_PG_PORT", 55432),
    "api_port": ("ORCHESTRATOR_STACK_API_PORT", 8080),
    "kafka_ssl_port": ("ORCHESTRATOR_STACK_KAFKA_SSL_PORT", 19094),
}
KAFKA_SECURITY = ("plaintext", "sasl_ssl")
PORT_STEP = 10  # node n of a cluster: ORCHESTRATOR_STACK_KAFKA_PORT + 10 * (n - 1), ...
MAX_BROKERS = 5


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    ports: dict[str, int] = {}
    for field, (var, default) in PORT_VARS.items():
        raw = env.get(var, "").strip() or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackError(f"{var}={raw!r} is not a TCP port number (1-65535)")
        ports[field] = int(raw)
    security = (env.get("ORCHESTRATOR_STACK_KAFKA_SECURITY", "").strip() or "plaintext").lower()
    if security not in KAFKA_SECURITY:
        raise StackError(
            f"ORCHESTRATOR_STACK_KAFKA_SECURITY={security!r}: expected one of "
            + ", ".join(KAFKA_SECURITY)
        )
    brokers = _brokers(env, security)
    state = Path(env.get("ORCHESTRATOR_STACK_STATE_DIR") or PROJECT_ROOT / ".stack")
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = Path(env.get("ORCHESTRATOR_STACK_CACHE_DIR") or Path(xdg) / "kafka-orchestrator")
    oauth = {
        name: env.get(f"ORCHESTRATOR_STACK_{name.upper()}", "").strip()
        for name in ("kafka_oauth_jwks_url", "kafka_oauth_issuer", "kafka_oauth_audience")
    }
    if any(oauth.values()) and not all(oauth.values()):
        raise StackError(
            "ORCHESTRATOR_STACK_KAFKA_OAUTH_JWKS_URL, _ISSUER and _AUDIENCE go together"
        )
    return Settings(
        state_dir=state.resolve(),
        cache_dir=cache.resolve(),
        kafka_security=security,
        brokers=brokers,
        **ports,
        **oauth,
    )


def _brokers(env: dict[str, str], security: str) -> int:
    raw = env.get("ORCHESTRATOR_STACK_BROKERS", "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_BROKERS:
        raise StackError(f"ORCHESTRATOR_STACK_BROKERS={raw!r}: expected 1 to {MAX_BROKERS}")
    if int(raw) > 1 and security != "plaintext":
        raise StackError(
            "ORCHESTRATOR_STACK_BROKERS > 1 runs plaintext listeners only; "
            "unset ORCHESTRATOR_STACK_KAFKA_SECURITY (or use one broker)"
        )
    for port in (
        env.get("ORCHESTRATOR_STACK_KAFKA_PORT"),
        env.get("ORCHESTRATOR_STACK_CONTROLLER_PORT"),
    ):
        if port and port.isdigit() and int(port) + PORT_STEP * (int(raw) - 1) > 65535:
            raise StackError(f"port {port} + {PORT_STEP} per further broker is past 65535")
    return int(raw)


def pom_property(pom: Path, name: str) -> str:
    """A <properties> value of one of our fetch-only poms (the version it pins)."""
    match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text())
    if match is None:
        raise StackError(f"no <{name}> property in {pom}")
    return match.group(1).strip()


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` not found on PATH: {hint}")
    return path


# --- ports -------------------------------------------------------------------------------------


def accepts_tcp(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """True when we could listen on 127.0.0.1:port (SO_REUSEADDR, like the servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not accepts_tcp(port)


def ensure_ports_free(wanted: Iterable[tuple[int, str, str]]) -> None:
    """wanted: (port, env var, what). Raise one clear line for the first taken port."""
    for port, var, what in wanted:
        if not port_is_free(port):
            raise StackError(
                f"port {port} ({what}) is already in use by another program; "
                f"stop it or choose another port with {var}=<port>"
            )


# --- processes ---------------------------------------------------------------------------------


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; everything after the last ')' is fixed.
    return raw[raw.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    # A zombie is dead for our purposes (the container's pid 1 may never reap it).
    return fields is not None and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def owned_process(pid_file: Path, marker: str) -> int | None:
    """The pid in pid_file if that process is alive and really ours (guards against pid reuse)."""
    pid = read_pid(pid_file)
    if pid is None or not is_alive(pid):
        return None
    return pid if any(names(arg, marker) for arg in cmdline(pid)) else None


def names(arg: str, path: str) -> bool:
    """Whether a command-line argument is path or something inside it (not /x/.stack-old)."""
    return arg == path or (path.rstrip("/") + "/") in arg


def stack_processes(programs: tuple[str, ...], markers: tuple[str, ...]) -> list[int]:
    """Live processes of this stack: a program in `programs` whose command line names a marker
    (the state folder or the Postgres data directory), and the children of those."""
    leaders: set[int] = set()
    members: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        args = cmdline(pid)
        # Postgres children rename themselves to one string such as "postgres: walwriter ".
        if not args or Path(args[0].split(" ")[0]).name.rstrip(":") not in programs:
            continue
        members[pid] = int(fields[1])  # parent pid
        if any(names(arg, m) for m in markers for arg in args):
            leaders.add(pid)
    # Postgres backends ("postgres: user db ...") do not name the data directory and each call
    # setsid(), so they are found as the postmaster's children.
    return sorted(pid for pid, parent in members.items() if pid in leaders or parent in leaders)


def stop_processes(
    main: list[int], group: list[int], sig: signal.Signals, deadline_s: float
) -> None:
    """Send sig to the main processes, wait up to deadline_s for the whole group to exit (the
    postmaster waits for its backends), then SIGKILL whatever is left of the group."""
    for pid in main:
        _signal(pid, sig)
    everyone = sorted(set(main) | set(group))
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and any(is_alive(p) for p in everyone):
        time.sleep(0.2)
    for pid in everyone:
        if is_alive(pid):
            _signal(pid, signal.SIGKILL)
    end = time.monotonic() + 5
    while time.monotonic() < end and any(is_alive(p) for p in everyone):
        time.sleep(0.1)


def _signal(pid: int, sig: signal.Signals) -> None:
    if pid <= 1:  # never "every process" (-1), our group (0) or init
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_until(check: Callable[[], bool], deadline_s: float, alive: Callable[[], bool]) -> bool:
    """Poll check() until true; stop early (False) when alive() says the process died."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        if not alive():
            return False
        time.sleep(0.3)
    return bool(check())


def tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())
