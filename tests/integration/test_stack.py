"""The local dev stack (scripts/stack.py): idempotent `up`, and real Kafka/Postgres behaviour the
project relies on (idempotent and transactional producers, read_committed, psycopg).

Needs the stack running with .stack/env sourced, which `make test` does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.py"
STATE_DIR = Path(os.environ.get("ORCHESTRATOR_STACK_STATE_DIR") or ROOT / ".stack")


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: start the stack and load its env "
            "(`make stack-up && . .stack/env`), or run the suite with `make test`"
        )
    return value


def stack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STACK), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def pids() -> tuple[str, str]:
    return (
        (STATE_DIR / "kafka.pid").read_text().strip(),
        (STATE_DIR / "postgres.pid").read_text().strip(),
    )


@pytest.fixture
def bootstrap() -> str:
    return required_env("ORCHESTRATOR_KAFKA_BOOTSTRAP")


@pytest.fixture
def topic(bootstrap: str) -> Iterator[str]:
    """A scratch topic (auto-creation is off on the stack, as in production)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    name = f"stack-test-{uuid.uuid4().hex[:12]}"
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    futures[name].result(timeout=30)
    yield name
    admin.delete_topics([name])[name].result(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_second_up_reports_already_running_and_keeps_pids() -> None:
    required_env("ORCHESTRATOR_KAFKA_BOOTSTRAP")
    before = pids()
    started = time.monotonic()
    result = stack("up")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert "already running" in result.stdout
    assert pids() == before


def test_status_exits_zero_when_both_are_up() -> None:
    result = stack("status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" up ") == 2, result.stdout


def test_up_names_the_taken_port_and_its_env_var(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {
            **os.environ,
            "ORCHESTRATOR_STACK_STATE_DIR": str(tmp_path / "state"),
            "ORCHESTRATOR_STACK_KAFKA_PORT": str(taken),
            "ORCHESTRATOR_STACK_CONTROLLER_PORT": str(free_port()),
            "ORCHESTRATOR_STACK_PG_PORT": str(free_port()),
        }
        try:
            result = stack("up", env=env)
        finally:
            stack("down", env=env)
    assert result.returncode != 0
    assert f"port {taken}" in result.stderr
    assert "ORCHESTRATOR_STACK_KAFKA_PORT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_up_without_java_fails_with_one_clear_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": str(tmp_path),  # no java, no mvn
        "ORCHESTRATOR_STACK_STATE_DIR": str(tmp_path / "state"),
        "ORCHESTRATOR_STACK_KAFKA_PORT": str(free_port()),
        "ORCHESTRATOR_STACK_CONTROLLER_PORT": str(free_port()),
        "ORCHESTRATOR_STACK_PG_PORT": str(free_port()),
    }
    try:
        result = stack("up", env=env)
    finally:
        stack("down", env=env)
    assert result.returncode != 0
    assert "not found on PATH" in result.stderr
    assert "`java`" in result.stderr or "`mvn`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_idempotent_producer_delivers(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    errors: list[object] = []
    producer.produce(topic, b"once", on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None]


def test_read_committed_consumer_sees_committed_not_aborted(bootstrap: str, topic: str) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"stack-test-{uuid.uuid4().hex}"}
    )
    producer.init_transactions(30)
    for value, commit in ((b"committed", True), (b"aborted", False), (b"after", True)):
        producer.begin_transaction()
        producer.produce(topic, value)
        # Flush first: otherwise an abort just purges the record before it reaches the log,
        # and the broker's read_committed filtering would go untested.
        assert producer.flush(30) == 0
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)

    assert consume_until(bootstrap, topic, last=b"after") == [b"committed", b"after"]


def consume_until(bootstrap: str, topic: str, last: bytes) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"stack-test-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while last not in seen and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            assert message.error() is None, message.error()
            seen.append(message.value())
    finally:
        consumer.close()
    return seen


def test_postgres_answers_select_1() -> None:
    url = required_env("ORCHESTRATOR_DATABASE_URL")
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
