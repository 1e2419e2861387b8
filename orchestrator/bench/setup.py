"""Before the load: the run's topics, its definitions, and its processes."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from confluent_kafka import Producer

from orchestrator.bench.procs import Fleet
from orchestrator.bench.workload import child_definition, task_definitions, workflow_definition
from orchestrator.codec import wire
from orchestrator.domain.definitions_json import parse_task_def, parse_workflow_def
from orchestrator.kafka.admin import admin_client, delete_topics, ensure_topics
from orchestrator.kafka.clients import producer_config
from orchestrator.kafka.topics import TopicNames, core_topics, definition_key, task_topic_spec
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

READY_TIMEOUT_S = 90.0


def create_topics(settings: Settings, task_types: tuple[str, ...]) -> None:
    specs = core_topics(settings) + [task_topic_spec(settings, t) for t in task_types]
    report = ensure_topics(settings, specs, 15.0)
    if not report.ok:
        raise RuntimeError(f"cannot create the bench topics: {report.errors}")


def publish_definitions(settings: Settings) -> None:
    """Register the task and workflow definitions as the API does: records on the definitions
    topic, keyed by kind, name (and version); the child workflow before its parent."""
    producer = Producer(producer_config(settings, client_id="bench-definitions"))
    topic = TopicNames.from_settings(settings).definitions
    now = int(time.time() * 1000)
    for data in task_definitions():
        d = parse_task_def(data)
        value = wire.encode_definition(d, registered_at=now, actor="bench")
        producer.produce(topic, key=definition_key("task", d.name).encode(), value=value)
    for data in (child_definition(), workflow_definition()):
        w = parse_workflow_def(data)
        value = wire.encode_definition(w, registered_at=now, actor="bench")
        producer.produce(
            topic, key=definition_key("workflow", w.name, w.version).encode(), value=value
        )
    if producer.flush(15):
        raise RuntimeError("the bench definitions were not delivered")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_processes(
    fleet: Fleet, processors: int, worker_processes: int, worker_concurrency: int,
    projector: bool, api: bool, http_key: str | None = None,
) -> None:  # fmt: skip
    """Start everything, then wait for each to say it is ready (in its log). ``http_key``:
    HTTP-polling workers (bench --http) with this API key instead of Kafka SDK workers."""
    started = [fleet.start("processor", ["processor"], processor_env(n)) for n in range(processors)]
    waits = [(c, b"recovered") for c in started]
    for _ in range(worker_processes):
        if http_key is not None:
            env = {"ORCHESTRATOR_BENCH_API_KEY": http_key}
            child = fleet.start("http-worker", [], env, module="orchestrator.bench.http_workers")
            waits.append((child, b"polling:"))
            continue
        args = ["worker", "orchestrator.bench.workers", "--concurrency", str(worker_concurrency)]
        waits.append((fleet.start("worker", args), b"polling:"))
    if projector:
        waits.append((fleet.start("projector", ["projector"]), b"reading"))
    if api:
        waits.append((fleet.start("api", ["api"]), b"startup complete"))
    for child, marker in waits:
        fleet.wait_for(child, marker, READY_TIMEOUT_S)


def processor_env(slot: int) -> dict[str, str]:
    """A fixed instance id per processor slot (static membership, ADR 0010): a processor
    started in the slot of a dead one takes its partitions over at once."""
    return {"ORCHESTRATOR_INSTANCE_ID": f"bench-processor-{slot}"}


def create_api_key(settings: Settings, role: str = "operator") -> str:
    """A key for the run's load through the API (revoked at the end of the run): an operator's
    for the starts, a worker's for the HTTP-polling workers (bench --http)."""
    import psycopg

    from orchestrator.auth.keys import create_key
    from projections.migrate import migrate

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        migrate(conn)
        return create_key(conn, role, f"{settings.topic_prefix}-{role}", created_by="bench").key


def revoke_api_key(settings: Settings, key: str) -> None:
    import psycopg

    from orchestrator.auth.keys import revoke_key

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        revoke_key(conn, key.partition(".")[0])


def wait_for_api_definitions(
    api_url: str, name: str, key: str | None, timeout_s: float = 60.0
) -> None:
    """The API resolves versions from the read model: wait until the projector has it."""
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    while time.monotonic() < deadline:
        try:
            url = f"{api_url}/api/metadata/workflow/{name}"
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API does not know {name} after {timeout_s:.0f} s")


def delete_run_topics(kafka: Kafka, prefix: str) -> int:
    """Delete every topic (and consumer group) of the run; returns how many topics."""
    admin = admin_client(kafka, 10.0)
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if names:
        delete_topics(kafka, names, 30.0)
    try:
        groups = [
            g.group_id
            for g in admin.list_consumer_groups(request_timeout=10).result().valid
            if g.group_id.startswith(prefix)
        ]
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=10).values():
                future.exception()  # a group still in use is left: harmless
    except Exception:  # groups are a nicety; the topics are what costs disk
        pass
    return len(names)


def run_env(settings: Settings, prefix: str, state_dir: Path, payload_bytes: int,
            ack_after_ms: int, partitions: int, api_port: int) -> dict[str, str]:  # fmt: skip
    from orchestrator.engine.supervisor import child_env

    env = child_env(settings)  # every setting, Kafka's security included
    env.update(
        ORCHESTRATOR_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        ORCHESTRATOR_DATABASE_URL=settings.database_url,
        ORCHESTRATOR_TOPIC_PREFIX=prefix,
        ORCHESTRATOR_PARTITIONS=str(partitions),
        ORCHESTRATOR_STATE_DIR=str(state_dir),
        ORCHESTRATOR_LOG_LEVEL="INFO",
        ORCHESTRATOR_API_PORT=str(api_port),
        ORCHESTRATOR_API_URL=f"http://127.0.0.1:{api_port}",
        ORCHESTRATOR_BENCH_PAYLOAD_BYTES=str(payload_bytes),
        ORCHESTRATOR_BENCH_ACK_AFTER_MS=str(ack_after_ms),
        # the run's own state store (archived executions), dropped with its topics
        ORCHESTRATOR_STATE_STORE_SCHEMA=prefix.replace("-", "_"),
    )
    return env


def drop_state_store(database_url: str, schema: str) -> None:
    import psycopg

    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error:  # no database: the run stored nothing
        pass
