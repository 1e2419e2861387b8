"""A private three-broker Kafka cluster for the fault tests (issue #19), started by the stack
script (``ORCHESTRATOR_STACK_BROKERS=3 scripts/stack.py up --kafka-only``) in a temporary state
folder on free ports, so it never touches the shared stack. The jars come from the stack's cache
(~/.cache/kafka-orchestrator), downloaded by Maven on a clean machine.

While the ``cluster`` fixture is active, ``ORCHESTRATOR_KAFKA_BOOTSTRAP``,
``ORCHESTRATOR_REPLICATION_FACTOR`` and ``ORCHESTRATOR_MIN_INSYNC_REPLICAS`` are the ones the
script wrote, so every helper of tests/runtime_support.py (and every subprocess they start)
works on the cluster; PostgreSQL stays the shared stack's.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.kafka.clients import new_admin
from orchestrator.kafka.security import kafka_access
from orchestrator.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack.py"
BROKERS = 3
PORT_STEP = 10  # scripts/stacklib/common.py: node n listens PORT_STEP * (n - 1) above node 1
EXPORTED = (
    "ORCHESTRATOR_KAFKA_BOOTSTRAP",
    "ORCHESTRATOR_REPLICATION_FACTOR",
    "ORCHESTRATOR_MIN_INSYNC_REPLICAS",
)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port() -> int:
    """A port P such that P, P+1, P+10, P+11, P+20, P+21 are free (below the ephemeral range)."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000)
        wanted = [base + PORT_STEP * i + j for i in range(BROKERS) for j in (0, 1)]
        if all(_free(p) for p in wanted):
            return base
    raise AssertionError("no free ports for a three-broker cluster")


def _stack(env: dict[str, str], *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(STACK), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stack.py {args} failed:\n{done.stdout}\n{done.stderr}"
    return time.monotonic() - started


@dataclass
class Cluster:
    state: Path
    env: dict[str, str]  # stack.py's environment (state folder, ports, brokers)
    exported: dict[str, str]  # what the script wrote to the env file
    start_s: float

    def pid(self, node: int) -> int:
        name = "kafka.pid" if node == 1 else f"kafka-{node}.pid"
        return int((self.state / name).read_text().split()[0])

    def kill9(self, node: int) -> float:
        """kill -9 one broker; returns the monotonic time of the kill."""
        pid = self.pid(node)
        at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        deadline = at + 30
        while _alive(pid):
            assert time.monotonic() < deadline, f"broker {node} (pid {pid}) survived SIGKILL"
            time.sleep(0.05)
        return at

    def restart(self) -> float:
        """`stack.py up` again: starts the nodes that are down; returns its duration."""
        return _stack(self.env, "up", "--kafka-only")

    def status(self) -> str:
        done = subprocess.run(
            [sys.executable, str(STACK), "status"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout

    def partitions(self, topics: list[str]) -> dict[tuple[str, int], tuple[int, list[int]]]:
        """(topic, partition) -> (leader, in-sync replicas)."""
        admin = new_admin(kafka_access(load_settings()))
        found = admin.list_topics(timeout=10).topics
        return {
            (name, p.id): (p.leader, sorted(p.isrs))
            for name in topics
            for p in found[name].partitions.values()
        }

    def topics_of(self, prefix: str) -> list[str]:
        admin = new_admin(kafka_access(load_settings()))
        return [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]

    def leaders(self, topic: str) -> dict[int, int]:
        return {p: leader for (_, p), (leader, _) in self.partitions([topic]).items()}

    def wait_in_sync(self, topics: list[str], timeout_s: float = 90) -> float:
        """Until every partition of `topics` has all its replicas in sync; returns the wait."""
        started = time.monotonic()
        while True:
            behind = {
                k: isr for k, (_, isr) in self.partitions(topics).items() if len(isr) < BROKERS
            }
            if not behind:
                return time.monotonic() - started
            assert time.monotonic() - started < timeout_s, f"not in sync: {behind}"
            time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("kafka-cluster")
    base = free_base_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_STACK_")}
    env.update(
        ORCHESTRATOR_STACK_STATE_DIR=str(state),
        ORCHESTRATOR_STACK_BROKERS=str(BROKERS),
        ORCHESTRATOR_STACK_KAFKA_PORT=str(base),
        ORCHESTRATOR_STACK_CONTROLLER_PORT=str(base + 1),
    )
    if cache := os.environ.get("ORCHESTRATOR_STACK_CACHE_DIR"):
        env["ORCHESTRATOR_STACK_CACHE_DIR"] = cache  # where the jars are
    start_s = _stack(env, "up", "--kafka-only")
    print(f"\nCLUSTER three brokers up in {start_s:.1f} s (stack.py up, jars cached)")
    try:
        text = (state / "env").read_text()
        written = dict(re.findall(r"^export (ORCHESTRATOR_\w+)=(.*)$", text, re.M))
        exported = {k: written[k] for k in EXPORTED}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in exported.items():
                patch.setenv(key, value)
            yield Cluster(state, env, exported, start_s)
    finally:
        _stack(env, "down")
