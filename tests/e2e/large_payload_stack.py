"""One deployment for the large-payload end-to-end tests: processor,
gate, projector, API and an SDK worker process (tests/e2e/payload_workers), on the real Kafka and
Postgres, with their own topic prefix, read-model schema and payload store schema."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from orchestrator.codec import get_codec, wire
from orchestrator.codec.wire_infra import DeadLetter
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.runtime_support import Runtime, bootstrap

REPO = Path(__file__).resolve().parents[2]
TERMINAL = ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT")


@dataclass
class Stack:
    rt: Runtime
    url: str  # the API, without /api
    env: dict[str, str]
    store_schema: str
    admin_key: str = ""  # an admin key of the deployment's database

    @property
    def http(self) -> httpx.Client:
        headers = bearer(self.admin_key)
        return httpx.Client(base_url=f"{self.url}/api", timeout=120, headers=headers)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, *argv],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.rt.processes.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.rt.log_dir / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.rt.log_dir.glob("*.log"))
        )

    def alive(self) -> list[str]:
        """Names of the processes that exited (empty: all still running)."""
        return [str(p.args) for p in self.rt.processes if p.poll() is not None]

    def workflow(self, workflow_id: str, timeout_s: float = 180) -> dict[str, Any]:
        """The workflow once terminal (fails fast if a service process died)."""
        deadline = time.monotonic() + timeout_s
        with self.http as http:
            while time.monotonic() < deadline:
                dead = self.alive()
                assert not dead, f"service process exited: {dead}\n{self.logs()}"
                got = http.get(f"/workflow/{workflow_id}", params={"includeTasks": "true"})
                if got.status_code == 200 and got.json()["status"] in TERMINAL:
                    return dict(got.json())
                time.sleep(0.5)
        raise AssertionError(f"workflow {workflow_id} not terminal in {timeout_s} s\n{self.logs()}")

    def start(self, name: str, workflow_input: Any) -> str:
        with self.http as http:
            response = http.post("/workflow", json={"name": name, "input": workflow_input})
        assert response.status_code in (200, 202), response.text
        return response.text

    def dead_letters(self, component: str, count: int, timeout_s: float = 60) -> list[DeadLetter]:
        """At least ``count`` dead letters set aside by ``component``, read from the topic."""
        found: list[DeadLetter] = []
        deadline = time.monotonic() + timeout_s
        for letter in read_topic(self.rt.topics.dlq, deadline):
            if letter is not None:
                dead = wire.decode_dead_letter(letter)
                if dead.component == component:
                    found.append(dead)
            if len(found) >= count:
                return found
        raise AssertionError(f"{len(found)} dead letters from {component}, wanted {count}")

    def raw_events(self, workflow_id: str, deadline_s: float = 60) -> list[tuple[str, dict]]:
        """(record name, Avro record as written) of the workflow's events, from the log."""
        codec = get_codec()
        out = []
        for value in read_topic(self.rt.topics.events, time.monotonic() + deadline_s, idle=3):
            if value is None:
                continue
            name, record = codec.decode(value)
            if record["header"]["workflow_id"] == workflow_id:
                out.append((name.rpartition(".")[2], record))
        return out


def read_topic(topic: str, deadline: float, idle: float = 0) -> Iterator[bytes | None]:
    """Values of ``topic`` from its beginning until ``deadline`` (or ``idle`` s without one)."""
    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": f"t-{uuid.uuid4()}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        last = time.monotonic()
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                if idle and time.monotonic() - last > idle:
                    return
                continue
            if message.error() is None:
                last = time.monotonic()
                yield message.value()
    finally:
        consumer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def large_payload_stack(log_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-pl-{uuid.uuid4().hex[:10]}", log_dir=log_dir)
    # Every process of this deployment gets the same payload store schema, dropped at the end
    # (other tests share the default one: content-addressed, a payload stored twice is one row).
    store_schema = f"payloads_{rt.prefix.replace('-', '_')}"
    rt.create_topics()
    env = rt.env()
    env.update(
        ORCHESTRATOR_DATABASE_URL=support.schema_url(base, schema),
        ORCHESTRATOR_PAYLOAD_STORE_URL=base,  # the read model's URL selects a schema
        ORCHESTRATOR_PAYLOAD_STORE_SCHEMA=store_schema,
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    port = _free_port()
    stack = Stack(rt, f"http://127.0.0.1:{port}", env, store_schema)
    try:
        stack.spawn("processor", ["-m", "orchestrator", "processor"])
        stack.spawn("gate", ["-m", "orchestrator", "gate"])
        stack.spawn("projector", ["-m", "orchestrator", "projector"])
        stack.spawn(
            "api", ["-m", "orchestrator", "api", "--host", "127.0.0.1", "--port", str(port)]
        )
        worker = ["-m", "orchestrator", "worker", "tests.e2e.payload_workers", "--grace", "1"]
        stack.spawn("worker", worker)
        support.wait_until(lambda: _healthy(stack.url), 90, "the API to answer /health")
        wait_for_log(stack, "processor", b"recovered", 90)
        stack.admin_key = new_key(env["ORCHESTRATOR_DATABASE_URL"], "admin", "payload-tests")
        yield stack
    finally:
        rt.stop_all()
        rt.delete_topics()  # and the deployment's state store schema
        support.drop_schema(base, schema)
        support.drop_schema(base, store_schema)


def wait_for_log(stack: Stack, name: str, needle: bytes, timeout_s: float) -> None:
    path = stack.rt.log_dir / f"{name}.log"
    check: Callable[[], bool] = lambda: path.exists() and needle in path.read_bytes()  # noqa: E731
    support.wait_until(check, timeout_s, f"{name} to log {needle!r}")
