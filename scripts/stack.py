#!/usr/bin/env python3
"""The local development stack without Docker: one Kafka broker (KRaft) and one PostgreSQL.

    python3 scripts/stack.py up|down|status|reset

Standard library only (it runs before the virtualenv exists). See docs/stack.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stacklib import kafka, kafka_secure, postgres, registry
from stacklib.common import (
    Settings,
    StackError,
    accepts_tcp,
    ensure_ports_free,
    load_settings,
    owned_process,
    read_pid,
    stack_processes,
    stop_processes,
    tail,
    wait_until,
)

READY_DEADLINE_S = 90
BROKERS_VAR = "ORCHESTRATOR_STACK_BROKERS"
STOP_DEADLINE_S = 30
EXIT_NOT_RUNNING = 3


def log(message: str) -> None:
    print(f"stack: {message}", flush=True)


# --- recorded state ----------------------------------------------------------------------------


def state_file(s: Settings) -> Path:
    return s.state_dir / "stack.json"


def load_state(s: Settings) -> dict[str, object]:
    try:
        return dict(json.loads(state_file(s).read_text()))
    except (OSError, ValueError):
        return {}


RECORDED = (
    "kafka_port",
    "controller_port",
    "pg_port",
    "kafka_ssl_port",
    "kafka_security",
    "brokers",
)


def effective(s: Settings, state: dict[str, object]) -> Settings:
    """Settings with the ports (and Kafka security) a running stack actually uses."""
    recorded = {k: state[k] for k in RECORDED if k in state}
    return replace(s, **recorded)  # type: ignore[arg-type]


def pg_data(state: dict[str, object]) -> str | None:
    area = state.get("pg_area")
    return f"{area}/data" if isinstance(area, str) else None


def kafka_pids(s: Settings) -> dict[int, int | None]:
    """Per Kafka node (1..brokers): its pid when it runs."""
    return {n: owned_process(kafka.pid_file(s, n), str(s.state_dir)) for n in s.nodes}


def pg_pid(s: Settings, state: dict[str, object]) -> int | None:
    data = pg_data(state)
    return owned_process(postgres.pid_file(s), data) if data else None


@contextmanager
def locked(s: Settings) -> Iterator[None]:
    """One stack.py at a time per state folder (e.g. two `make` runs at once)."""
    s.logs_dir.mkdir(parents=True, exist_ok=True)
    with (s.state_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- up ----------------------------------------------------------------------------------------


def cmd_up(s: Settings, kafka_only: bool = False) -> int:
    with locked(s):
        state = load_state(s)
        run = effective(s, state)
        k_pids = kafka_pids(run)
        k_up = [n for n, pid in k_pids.items() if pid]
        if k_up and run.kafka_security != s.kafka_security:
            raise StackError(
                f"Kafka runs {run.kafka_security}, {s.kafka_security} was asked: "
                "`make stack-down` first"
            )
        if k_up and run.brokers != s.brokers and BROKERS_VAR in os.environ:
            raise StackError(
                f"Kafka runs {run.brokers} broker(s), {BROKERS_VAR}={s.brokers} was asked: "
                "`make stack-down` first"
            )
        p_pid = -1 if kafka_only else pg_pid(run, state)  # -1: never started nor waited for
        if registry.wanted():
            _, took = registry.start(s)
            if took:
                log(f"schema registry up on {registry.url(s)} in {took:.1f} s")
        k_down = [n for n in run.nodes if n not in k_up]
        if not k_down and p_pid:
            log(f"already running (kafka pids {[k_pids[n] for n in k_up]}); nothing changed")
            write_env(s, run, with_postgres=not kafka_only)
            summary(run, state, with_postgres=not kafka_only)
            return 0
        if k_up:
            log(f"kafka already running (pids {[k_pids[n] for n in k_up]})")
            if k_down:
                log(f"starting the kafka node(s) that are down: {k_down}")
        else:
            clear_leftovers(s, ("java",), (str(s.state_dir),))
            run = replace(
                run,
                kafka_port=s.kafka_port,
                controller_port=s.controller_port,
                kafka_ssl_port=s.kafka_ssl_port,
                kafka_security=s.kafka_security,
                brokers=s.brokers,
            )
            k_down = list(run.nodes)
        if not kafka_only and p_pid:
            log(f"postgres already running (pid {p_pid})")
        elif not kafka_only:
            if data := pg_data(state):
                clear_leftovers(s, ("postgres", "postmaster"), (data,))
            run = replace(run, pg_port=s.pg_port)
        start_missing(run, state, kafka_nodes=k_down, start_pg=not p_pid)
        write_env(s, run, with_postgres=not kafka_only)
        log("up")
        summary(run, state, with_postgres=not kafka_only)
    return 0


def start_missing(
    s: Settings, state: dict[str, object], kafka_nodes: list[int], start_pg: bool
) -> None:
    wanted = []
    for n in kafka_nodes:
        which = f" {n}" if s.brokers > 1 else ""
        wanted += [
            (s.broker_port(n), "ORCHESTRATOR_STACK_KAFKA_PORT", f"Kafka broker{which}"),
            (s.node_controller_port(n), "ORCHESTRATOR_STACK_CONTROLLER_PORT", "Kafka controller"),
        ]
    if kafka_nodes and s.kafka_security == "sasl_ssl":
        wanted.append((s.kafka_ssl_port, "ORCHESTRATOR_STACK_KAFKA_SSL_PORT", "Kafka mTLS"))
    if start_pg:
        wanted.append((s.pg_port, "ORCHESTRATOR_STACK_PG_PORT", "PostgreSQL"))
    ensure_ports_free(wanted)
    offsets: dict[int, int] = {}
    if kafka_nodes:
        libs = kafka.ensure_libs(s)
        prepare_nodes(s, libs, kafka_nodes)
        # Every node is started before any is waited for: a node serves once a quorum of the
        # controllers runs, so none of a cluster's would start if they were awaited in turn.
        offsets = {n: kafka.start(s, libs, n)[1] for n in kafka_nodes}
    if start_pg:
        user = postgres.run_as_user()
        recorded = state.get("pg_area")
        pg_area = postgres.area(s, user, recorded if isinstance(recorded, str) else None)
        state["pg_area"] = str(pg_area)
        postgres.prepare(s, user, pg_area)
        postgres.start(s, user, pg_area)
    state.update({k: getattr(s, k) for k in RECORDED})
    state_file(s).write_text(json.dumps(state, indent=2) + "\n")
    # Both start in parallel above; now wait for each with its own deadline message.
    for n, offset in offsets.items():
        wait_kafka(s, n, offset)
    if start_pg:
        wait_postgres(s, state)
        postgres.ensure_database(s.pg_port)


def prepare_nodes(s: Settings, libs: Path, nodes: list[int]) -> None:
    """Configs and storage of each node; the formats (a JVM each) run side by side."""
    kafka.home(s).mkdir(parents=True, exist_ok=True)
    kafka.cluster_id(s)  # written once, before the nodes read it
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        for future in [pool.submit(kafka.prepare, s, libs, n) for n in nodes]:
            future.result()


def wait_kafka(s: Settings, node: int, offset: int) -> None:
    pids = [p for p in [read_pid(kafka.pid_file(s, node))] if p]
    name = "Kafka" if s.brokers == 1 else f"Kafka node {node}"

    def alive() -> bool:
        return owned_process(kafka.pid_file(s, node), str(s.state_dir)) is not None

    ready = wait_until(
        lambda: kafka.started_since(s, offset, node) and accepts_tcp(s.broker_port(node)),
        READY_DEADLINE_S,
        alive=alive,
    )
    if not ready:
        what = (
            "exited during startup" if not alive() else f"did not start within {READY_DEADLINE_S}s"
        )
        stop_processes(pids, pids, signal.SIGKILL, 5)
        out = kafka.out_file(s, node)
        reason = kafka.failure_reason(s, offset, node) or tail(out, 1) or "see the logs"
        raise StackError(f"{name} {what}: {reason} (logs: {kafka.log_file(s, node)} and {out})")


def wait_postgres(s: Settings, state: dict[str, object]) -> None:
    pids = [p for p in [read_pid(postgres.pid_file(s))] if p]

    def alive() -> bool:
        return pg_pid(s, state) is not None

    ready = wait_until(lambda: postgres.is_ready(s.pg_port), READY_DEADLINE_S, alive=alive)
    if not ready:
        what = (
            "exited during startup" if not alive() else f"did not start within {READY_DEADLINE_S}s"
        )
        stop_processes(pids, pids, signal.SIGKILL, 5)
        log_path = postgres.log_file(s)
        raise StackError(f"PostgreSQL {what}: {tail(log_path, 1)} (log: {log_path})")


def clear_leftovers(s: Settings, programs: tuple[str, ...], markers: tuple[str, ...]) -> None:
    """Processes of this stack that lost their pid file (e.g. a crashed `up`) would hold the
    ports and the data directories; they are ours (their command line names our folders)."""
    pids = stack_processes(programs, markers)
    if pids:
        log(f"stopping leftover {programs[0]} processes of this stack: {pids}")
        stop_processes(pids, pids, signal.SIGTERM, STOP_DEADLINE_S)


# --- env and summary ---------------------------------------------------------------------------


def env_text(s: Settings, with_postgres: bool = True) -> str:
    text = (
        "# Written by scripts/stack.py up: where the local dev stack runs. Use: . .stack/env\n"
        f"export ORCHESTRATOR_KAFKA_BOOTSTRAP={s.bootstrap}\n"
    )
    if s.brokers > 1:  # the project's topics follow the cluster (docs/operations.md)
        text += (
            f"export ORCHESTRATOR_REPLICATION_FACTOR={s.replication_factor}\n"
            f"export ORCHESTRATOR_MIN_INSYNC_REPLICAS={s.min_insync_replicas}\n"
        )
    if s.kafka_security == "sasl_ssl":
        text += kafka_secure.env_lines(s)
    if with_postgres:
        text += (
            f"export ORCHESTRATOR_DATABASE_URL=postgresql://{postgres.DB_USER}@127.0.0.1:"
            f"{s.pg_port}/{postgres.DB_NAME}\n"
        )
    if registry.running(s):
        text += f"export ORCHESTRATOR_SCHEMA_REGISTRY_URL={registry.url(s)}\n"
    return text + f"export ORCHESTRATOR_API_URL=http://127.0.0.1:{s.api_port}\n"


def write_env(s: Settings, run: Settings, with_postgres: bool = True) -> None:
    # The API is not part of the stack, so its port always comes from the current environment.
    text = env_text(replace(run, api_port=s.api_port), with_postgres)
    if not s.env_file.exists() or s.env_file.read_text() != text:
        s.env_file.write_text(text)
        s.env_file.chmod(0o600)  # a secured broker's password is in it


def summary(s: Settings, state: dict[str, object], with_postgres: bool = True) -> None:
    for n in s.nodes:
        name = "kafka    " if s.brokers == 1 else f"kafka-{n}  "
        print(
            f"  {name} 127.0.0.1:{s.broker_port(n)} (controller 127.0.0.1:"
            f"{s.node_controller_port(n)})  pid {read_pid(kafka.pid_file(s, n))}"
            f"  data {kafka.home(s, n) / 'data'}"
        )
    if s.brokers > 1:
        print(
            f"  topics    replication factor {s.replication_factor}, min.insync.replicas "
            f"{s.min_insync_replicas} (written to the env file)"
        )
    if s.kafka_security == "sasl_ssl":
        print(
            f"  security  SASL_SSL ({kafka_secure.MECHANISM}, user {kafka_secure.USER}) on "
            f"{s.kafka_port}, mutual TLS on {s.kafka_ssl_port}, no plaintext listener; "
            f"CA {kafka_secure.pki(s).ca}"
        )
    if with_postgres:
        print(
            f"  postgres  127.0.0.1:{s.pg_port} db {postgres.DB_NAME} user {postgres.DB_USER}"
            f"  pid {read_pid(postgres.pid_file(s))}  data {pg_data(state)}"
        )
    if registry.running(s):
        print(
            f"  registry  {registry.url(s)} ({registry.recorded_kind(s)})  "
            f"pid {registry.running(s)}  data {registry.where(s)}"
        )
    print(f"  logs      {s.logs_dir}/ (kafka*.log, kafka*.out, postgres.log, registry.log)")
    print(f"  env       {s.env_file}  (source it: . {s.env_file})")
    print(f"  jars      {kafka.libs_dir(s)}")


# --- down, status, reset -----------------------------------------------------------------------


def cmd_down(s: Settings) -> int:
    with locked(s):
        state = load_state(s)
        k_main = [p for p in kafka_pids(effective(s, state)).values() if p]
        k_all = sorted(set(k_main) | set(stack_processes(("java",), (str(s.state_dir),))))
        if k_all:
            stop_processes(k_main or k_all, k_all, signal.SIGTERM, STOP_DEADLINE_S)
        p_all: list[int] = []
        if data := pg_data(state):
            p_main = [p for p in [pg_pid(s, state)] if p]
            p_all = sorted(set(p_main) | set(stack_processes(("postgres", "postmaster"), (data,))))
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
            if p_all:
                stop_processes(p_main or p_all, p_all, signal.SIGINT, STOP_DEADLINE_S)
        stopped_registry = registry.stop(s)
        s.env_file.unlink(missing_ok=True)
        for pid_path in (*s.state_dir.glob("kafka*.pid"), postgres.pid_file(s)):
            pid_path.unlink(missing_ok=True)
        left = [*stack_processes(("java",), (str(s.state_dir),))]
        if data:
            left += stack_processes(("postgres", "postmaster"), (data,))
        if left:
            raise StackError(f"processes of this stack survived SIGKILL: {left}")
        log(
            f"down (stopped {len(k_all)} kafka, {len(p_all)} postgres and "
            f"{stopped_registry} schema registry processes)"
        )
    return 0


def cmd_status(s: Settings) -> int:
    state = load_state(s)
    run = effective(s, state)
    k_up = True
    for n, pid in kafka_pids(run).items():
        up = bool(pid) and accepts_tcp(run.broker_port(n))
        k_up = k_up and up
        name = "kafka    " if run.brokers == 1 else f"kafka-{n}  "
        where = f"127.0.0.1:{run.broker_port(n)} pid {pid}" if pid else ""
        print(f"{name} {'up  ' if up else 'down'}  {where}".rstrip())
    p_pid = pg_pid(run, state)
    p_up = bool(p_pid) and postgres.is_ready(run.pg_port)
    p_where = f"127.0.0.1:{run.pg_port} pid {p_pid}"
    print(f"postgres  {'up  ' if p_up else 'down'}  {p_where if p_pid else ''}".rstrip())
    r_pid = registry.running(run)
    if r_pid or registry.wanted():
        r_up = bool(r_pid) and registry.answers(registry.url(run))
        r_where = f"{registry.url(run)} pid {r_pid}"
        print(f"registry  {'up  ' if r_up else 'down'}  {r_where if r_pid else ''}".rstrip())
    return 0 if k_up and p_up else EXIT_NOT_RUNNING


def cmd_reset(s: Settings) -> int:
    state = load_state(s)
    cmd_down(s)
    area = state.get("pg_area")
    if isinstance(area, str) and not Path(area).is_relative_to(s.state_dir):
        shutil.rmtree(area, ignore_errors=True)
    shutil.rmtree(s.state_dir, ignore_errors=True)
    log(f"reset: deleted {s.state_dir} (the Kafka download in {s.cache_dir} is kept)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="stack.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "reset"])
    parser.add_argument(
        "--kafka-security",
        choices=["plaintext", "sasl_ssl"],
        help="up: the broker's listeners (default: ORCHESTRATOR_STACK_KAFKA_SECURITY or "
        "plaintext); sasl_ssl has no plaintext listener (see docs/stack.md)",
    )
    parser.add_argument("--kafka-only", action="store_true", help="up: Kafka without PostgreSQL")
    args = parser.parse_args(argv)
    commands = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "reset": cmd_reset}
    started = time.monotonic()
    try:
        settings = load_settings()
        if args.kafka_security:
            settings = replace(settings, kafka_security=args.kafka_security)
        if settings.brokers > 1 and settings.kafka_security != "plaintext":
            raise StackError(f"{BROKERS_VAR} > 1 runs plaintext listeners only")
        if args.command == "up":
            code = cmd_up(settings, kafka_only=args.kafka_only)
        else:
            code = commands[args.command](settings)
    except StackError as error:
        print(f"stack: error: {error}", file=sys.stderr, flush=True)
        return 1
    except BrokenPipeError:  # e.g. `stack.py up | head -1`: the work is done, stay quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.command == "up":
        log(f"done in {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
