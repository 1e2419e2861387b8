"""The HTTP poll bridge against the real Kafka and Postgres: polls, acks, results, queue sizes.

Dispatches are produced straight onto the task topics (as the processor would) and the commands
the API produces are read back from the commands topic; no processor runs here.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.api.kafka_out import AsyncProducer
from orchestrator.api.task_bridge import TaskBridge
from orchestrator.api.task_subscription import worker_group
from orchestrator.codec import wire
from orchestrator.codec.wire import default_wire
from orchestrator.domain import commands as cmd
from orchestrator.domain.effects import DispatchTask
from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.clients import consumer_config, producer_config
from orchestrator.kafka.topics import TopicNames, task_topic_spec
from orchestrator.settings import Settings
from orchestrator.worker.registry import WorkerSpec
from orchestrator.worker.runner import group_id
from tests import readmodel_support as support
from tests.auth_support import authed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SECRET_ENV = "ORCHESTRATOR_SECRET_BRIDGE_TEST_TOKEN"


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    base = support.database_url()
    schema = support.create_schema(base)
    prefix = f"test-bridge-{os.urandom(5).hex()}"
    settings = support.settings_for(support.schema_url(base, schema), prefix, partitions="2")
    yield settings
    names = TopicNames(prefix)
    support.remove_topics(settings)
    admin_topics = _topics_with_prefix(settings, names.tasks_prefix)
    delete_topics(settings, admin_topics)
    support.drop_schema(base, schema)


def _topics_with_prefix(bootstrap: Settings, prefix: str) -> list[str]:
    from orchestrator.kafka.admin import admin_client

    return [
        t for t in admin_client(bootstrap).list_topics(timeout=10).topics if t.startswith(prefix)
    ]


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    os.environ[SECRET_ENV] = "s3cr3t-value"
    try:
        with authed(TestClient(create_app(settings)), settings) as client:
            yield client
    finally:
        os.environ.pop(SECRET_ENV, None)


class Commands:
    """Reads the commands topic from the beginning: (key, command) pairs."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe([TopicNames.from_settings(settings).commands])
        self.seen: list[tuple[str, Any]] = []

    def wait_for(self, match: Any, timeout: float = 20.0) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for found in self.seen:
                if match(found[1]):
                    return found
            for msg in self.consumer.consume(100, 0.2):
                if not msg.error():
                    self.seen.append((msg.key().decode(), wire.decode_command(msg.value())))
        raise AssertionError("command not found on the commands topic")

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def commands(settings: Settings) -> Iterator[Commands]:
    reader = Commands(settings)
    yield reader
    reader.close()


def dispatch(task_type: str, **changes: Any) -> DispatchTask:
    workflow_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "task_id": str(uuid.uuid4()),
        "task_type": task_type,
        "reference_task_name": f"{task_type}_ref",
        "task_def_name": task_type,
        "input_data": {"n": 21},
        "workflow_instance_id": workflow_id,
        "root_workflow_id": workflow_id,
        "workflow_type": "bridge_flow",
        "workflow_version": 1,
        "correlation_id": "corr-1",
        "retry_count": 0,
        "poll_count": 0,
        "seq": 1,
        "scheduled_time": int(time.time() * 1000),
        "start_delay_in_seconds": 0,
        "response_timeout_seconds": 30,
        "callback_after_seconds": 0,
        "domain": None,
        "workflow_priority": 0,
        "iteration": 0,
        "retried_task_id": None,
        "timeout_seconds": 60,
        "rate_limit_per_frequency": 0,
        "rate_limit_frequency_in_seconds": 1,
        "concurrent_exec_limit": None,
    }
    fields.update(changes)
    return DispatchTask(**fields)


def publish(settings: Settings, *dispatches: DispatchTask) -> None:
    queues = {(d.task_type, d.domain) for d in dispatches}
    specs = [task_topic_spec(settings, task_type, domain) for task_type, domain in queues]
    assert ensure_topics(settings, specs).ok
    producer = Producer(producer_config(settings))
    names = TopicNames.from_settings(settings)
    for d in dispatches:
        producer.produce(
            names.task(d.task_type, d.domain), key=d.task_id.encode(), value=wire.encode_dispatch(d)
        )
    assert producer.flush(15) == 0


def poll_until_task(client: TestClient, task_type: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll (the first poll subscribes; the group takes a few seconds to assign partitions)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/tasks/poll/{task_type}", params={"workerid": "w-1"})
        if response.status_code == 200:
            return dict(response.json())
        assert response.status_code == 204, response.text
    raise AssertionError(f"no {task_type} task handed out within {timeout:g} s")


def warm_up(client: TestClient, task_type: str) -> None:
    """Subscribe the bridge to a queue and wait until its consumer owns the partitions."""
    client.get(f"/api/tasks/poll/{task_type}")
    bridge = client.app.state.task_bridge  # type: ignore[attr-defined]
    support.wait_until(
        lambda: any(
            len(sub.assigned) == 2 for key, sub in bridge._subs.items() if key[0] == task_type
        ),
        30,
        f"the bridge to be assigned the {task_type} partitions",
    )


def test_bridge_joins_the_consumer_group_of_the_kafka_sdk_workers() -> None:
    spec = WorkerSpec(task_type="resize", function=print)
    assert worker_group("p", "resize", None) == group_id("p", spec) == "p-worker-resize"
    in_eu = WorkerSpec(task_type="resize", function=print, domain="eu")
    assert worker_group("p", "resize", "eu") == group_id("p", in_eu) == "p-worker-eu.resize"


def test_poll_answers_204_when_the_queue_is_empty(client: TestClient) -> None:
    response = client.get("/api/tasks/poll/nothing_here", params={"workerid": "w-1"})
    assert response.status_code == 204
    assert response.content == b""
    batch = client.get("/api/tasks/poll/batch/nothing_here", params={"count": 3, "timeout": 10})
    assert batch.status_code == 200
    assert batch.json() == []


def test_dispatched_task_is_handed_out_once_in_progress_and_acknowledged(
    client: TestClient, settings: Settings, commands: Commands
) -> None:
    root = str(uuid.uuid4())
    task = dispatch(
        "hand_out",
        root_workflow_id=root,
        input_data={"token": "${workflow.secrets.BRIDGE_TEST_TOKEN}", "n": 1},
    )
    publish(settings, task)
    got = poll_until_task(client, "hand_out")
    assert got["taskId"] == task.task_id
    assert got["status"] == "IN_PROGRESS"
    assert got["workerId"] == "w-1"
    assert got["pollCount"] == 1
    assert got["workflowInstanceId"] == task.workflow_instance_id
    assert got["referenceTaskName"] == "hand_out_ref"
    assert got["responseTimeoutSeconds"] == 30
    assert got["inputData"] == {"token": "s3cr3t-value", "n": 1}  # resolved at hand-off only
    key, ack = commands.wait_for(
        lambda c: isinstance(c, cmd.TaskStarted) and c.task_id == task.task_id
    )
    assert key == root  # routed to the workflow tree's partition
    assert (ack.workflow_id, ack.root_workflow_id, ack.worker_id) == (
        task.workflow_instance_id,
        root,
        "w-1",
    )
    assert ack.actor == "worker:test-admin"  # the key's principal; the worker id is only data
    for _ in range(5):  # handed out once: later polls find nothing
        assert client.get("/api/tasks/poll/hand_out").status_code == 204


def test_the_same_dispatch_twice_is_handed_out_once(client: TestClient, settings: Settings) -> None:
    task = dispatch("twice")
    warm_up(client, "twice")
    publish(settings, task, task)
    first = client.get("/api/tasks/poll/batch/twice", params={"count": 5, "timeout": 5000})
    assert [t["taskId"] for t in first.json()] == [task.task_id]
    again = client.get("/api/tasks/poll/batch/twice", params={"count": 5, "timeout": 500})
    assert again.json() == []


def test_batch_poll_returns_up_to_count_and_waits_for_tasks(
    client: TestClient, settings: Settings
) -> None:
    warm_up(client, "batched")
    tasks = [dispatch("batched", seq=i) for i in range(3)]
    publish(settings, *tasks)
    deadline = time.monotonic() + 20
    got: list[dict[str, Any]] = []
    while len(got) < 3 and time.monotonic() < deadline:
        page = client.get("/api/tasks/poll/batch/batched", params={"count": 2, "timeout": 1000})
        assert page.status_code == 200
        assert len(page.json()) <= 2
        got.extend(page.json())
    assert sorted(t["taskId"] for t in got) == sorted(t.task_id for t in tasks)

    started = time.monotonic()
    empty = client.get("/api/tasks/poll/batch/batched", params={"count": 2, "timeout": 800})
    assert empty.json() == []
    assert time.monotonic() - started >= 0.7  # it waited for the timeout

    late = dispatch("batched")
    threading.Timer(0.5, publish, (settings, late)).start()
    started = time.monotonic()
    waited = client.get("/api/tasks/poll/batch/batched", params={"count": 2, "timeout": 10000})
    assert [t["taskId"] for t in waited.json()] == [late.task_id]
    assert time.monotonic() - started < 9  # answered when the task came, not at the timeout


def test_posted_task_result_becomes_a_report_keyed_by_the_root(
    client: TestClient, settings: Settings, commands: Commands
) -> None:
    root = str(uuid.uuid4())
    task = dispatch("reported", root_workflow_id=root)
    publish(settings, task)
    got = poll_until_task(client, "reported")
    result = {
        "workflowInstanceId": got["workflowInstanceId"],
        "taskId": got["taskId"],
        "status": "COMPLETED",
        "outputData": {"doubled": 42},
        "workerId": "w-1",
        "callbackAfterSeconds": None,
        "logs": [{"log": "started", "taskId": got["taskId"], "createdTime": 1}],
        "extendLease": False,
    }
    response = client.post("/api/tasks", json=result)
    assert response.status_code == 200, response.text
    assert response.text == task.task_id
    key, report = commands.wait_for(
        lambda c: isinstance(c, cmd.ReportTaskResult) and c.task_id == task.task_id
    )
    assert key == root
    assert report.status == "COMPLETED"
    assert report.output == {"doubled": 42}
    assert report.logs == ("started",)
    assert (report.worker_id, report.actor) == ("w-1", "worker:test-admin")


def test_task_result_with_a_status_a_worker_cannot_set_is_rejected(client: TestClient) -> None:
    body = {"workflowInstanceId": "w", "taskId": "t", "status": "CANCELED"}
    response = client.post("/api/tasks", json=body)
    assert response.status_code == 400
    assert "cannot set status CANCELED" in response.json()["message"]
    unknown = client.post("/api/tasks", json={**body, "status": "DONE"})
    assert unknown.status_code == 400


def test_update_by_ref_of_an_unknown_workflow_is_404(client: TestClient) -> None:
    response = client.post("/api/tasks/no-such-wf/ref/COMPLETED", json={"a": 1})
    assert response.status_code == 404
    assert client.get("/api/tasks/no-such-task").status_code == 404


def test_queue_sizes_count_the_backlog_of_the_worker_group(
    client: TestClient, settings: Settings
) -> None:
    publish(settings, *[dispatch("backlog") for _ in range(3)])
    sizes = client.get(
        "/api/tasks/queue/sizes", params=[("taskType", "backlog"), ("taskType", "never_seen")]
    )
    assert sizes.status_code == 200
    assert sizes.json() == {"backlog": 3, "never_seen": 0}
    handed = 0
    deadline = time.monotonic() + 30
    while handed < 3 and time.monotonic() < deadline:
        page = client.get("/api/tasks/poll/batch/backlog", params={"count": 3, "timeout": 500})
        handed += len(page.json())
    assert handed == 3
    support.wait_until(  # the bridge's offsets are auto-committed within a second or so
        lambda: (
            client.get("/api/tasks/queue/sizes", params={"taskType": "backlog"}).json()
            == {"backlog": 0}
        ),
        15,
        "the backlog to drain",
    )


def test_task_with_a_missing_secret_is_failed_not_handed_out(
    client: TestClient, settings: Settings, commands: Commands
) -> None:
    warm_up(client, "secretive")
    task = dispatch("secretive", input_data={"key": "${workflow.secrets.NOT_CONFIGURED_X}"})
    publish(settings, task)
    page = client.get("/api/tasks/poll/batch/secretive", params={"count": 1, "timeout": 3000})
    assert page.json() == []
    _, report = commands.wait_for(
        lambda c: isinstance(c, cmd.ReportTaskResult) and c.task_id == task.task_id
    )
    assert report.status == "FAILED"
    assert "NOT_CONFIGURED_X" in (report.reason or "")


async def test_idle_queue_is_unsubscribed_and_its_buffered_tasks_go_back(
    settings: Settings,
) -> None:
    producer = AsyncProducer(settings)
    bridge = TaskBridge(settings, producer, default_wire(), idle_s=1.0, buffer_size=8)
    tasks = [dispatch("idle_q", seq=i) for i in range(3)]
    publish(settings, *tasks)
    try:
        handed: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not handed and time.monotonic() < deadline:
            handed = await bridge.poll("idle_q", None, "w-idle", 1, 1000)
        assert len(handed) == 1
        deadline = time.monotonic() + 20
        while bridge.subscribed() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert bridge.subscribed() == []  # no poller for idle_s: the consumer left the group
    finally:
        await bridge.close()
        producer.close()
    rest = {t.task_id for t in tasks} - {handed[0]["taskId"]}
    assert read_group(settings, "idle_q", expected=len(rest)) == rest


def read_group(settings: Settings, task_type: str, expected: int) -> set[str]:
    """What a Kafka SDK worker of the queue's group would receive now."""
    consumer = Consumer(
        consumer_config(
            settings,
            worker_group(settings.topic_prefix, task_type, None),
            extra={"enable.auto.commit": False},
        )
    )
    consumer.subscribe([TopicNames.from_settings(settings).task(task_type)])
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.2):
                if not msg.error():
                    seen.add(wire.decode_dispatch(msg.value()).task_id)
            if len(seen) >= expected:
                quiet_until = quiet_until or time.monotonic() + 1.0  # and nothing more after
                if time.monotonic() > quiet_until:
                    break
    finally:
        consumer.close()
    return seen
