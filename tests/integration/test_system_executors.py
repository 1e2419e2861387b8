"""The built-in HTTP, EVENT and KAFKA_PUBLISH executors, end to end on the real Kafka.

Dispatches go onto the HTTP / EVENT / KAFKA_PUBLISH task topics, the executors run in a
WorkerGroup, results are read from the commands topic. HTTP calls go to a server this test
starts on the loopback interface.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from confluent_kafka import Consumer

from orchestrator.domain.commands import ReportTaskResult
from orchestrator.domain.statuses import TaskStatus
from orchestrator.kafka.admin import (
    KafkaUnavailable,
    admin_client,
    delete_topics,
    ensure_topics,
)
from orchestrator.kafka.topics import TopicSpec, core_topics
from orchestrator.settings import Settings, load_settings
from orchestrator.worker import WorkerGroup
from orchestrator.worker.system import system_workers
from orchestrator.worker.testing import CommandsReader, make_dispatch, produce_dispatch

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/slow"):
            time.sleep(2)
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self.send_response(code)
            payload = b"service is down"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if self.path.startswith("/redirect"):
            self.send_response(302)
            port = self.server.server_address[1]
            self.send_header("Location", f"http://localhost:{port}/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        echo = {
            "method": self.command,
            "path": self.path,
            "body": body,
            "contentType": self.headers.get("Content-Type"),
            "xTrace": self.headers.get("X-Trace"),
        }
        payload = json.dumps(echo).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def settings() -> Iterator[Settings]:
    if not os.environ.get("ORCHESTRATOR_KAFKA_BOOTSTRAP"):
        pytest.fail(
            "ORCHESTRATOR_KAFKA_BOOTSTRAP is not set: run `make stack-up` and source .stack/env"
        )
    prefix = f"its-{uuid.uuid4().hex[:10]}"
    # "localhost" is denied, 127.0.0.1 is not: the same server, reachable or not by name.
    # Loopback itself is allowed here (HTTP tasks are refused non-public addresses by default).
    overrides = {"topic_prefix": prefix, "worker_id": "it-system", "http_deny_hosts": "localhost",
                 "http_allow_networks": "127.0.0.0/8"}  # fmt: skip
    settings = load_settings(overrides=overrides)
    try:
        admin_client(settings, timeout_s=10)
    except KafkaUnavailable as exc:
        pytest.fail(f"{exc}\nThe integration tests need the local stack: run `make stack-up`.")
    assert ensure_topics(settings, core_topics(settings)).ok
    yield settings
    admin = admin_client(settings)
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + ".")]
    delete_topics(settings, mine)


@pytest.fixture
def executors(settings: Settings) -> Iterator[CommandsReader]:
    reader = CommandsReader(settings)
    with WorkerGroup(system_workers(settings), settings, grace_seconds=5):
        yield reader
    reader.close()


def run_task(settings: Settings, reader: CommandsReader, task_type: str, task_input: Any) -> Any:
    dispatch = make_dispatch(task_type, task_input)
    produce_dispatch(settings, dispatch)
    record = reader.wait_for(
        lambda c: isinstance(c, ReportTaskResult) and c.task_id == dispatch.task_id, timeout=30
    )
    return record.command


def test_http_post_completes_with_the_decoded_json_response(
    settings: Settings, executors: CommandsReader, server: str
) -> None:
    request = {
        "uri": f"{server}/echo",
        "method": "POST",
        "body": {"name": "cat.jpg", "sizes": [160, 640]},
        "headers": {"X-Trace": "abc"},
    }
    result = run_task(settings, executors, "HTTP", {"http_request": request})
    assert result.status is TaskStatus.COMPLETED, result.reason
    response = result.output["response"]
    assert response["statusCode"] == 200 and response["reasonPhrase"] == "OK"
    assert response["headers"]["content-type"] == ["application/json"]
    echoed = response["body"]
    assert echoed["method"] == "POST" and echoed["xTrace"] == "abc"
    assert json.loads(echoed["body"]) == {"name": "cat.jpg", "sizes": [160, 640]}
    assert echoed["contentType"] == "application/json"


def test_http_error_status_fails_the_task_with_the_status(
    settings: Settings, executors: CommandsReader, server: str
) -> None:
    request = {"uri": f"{server}/status/503", "method": "GET"}
    result = run_task(settings, executors, "HTTP", {"http_request": request})
    assert result.status is TaskStatus.FAILED
    assert result.reason == "HTTP 503 Service Unavailable: service is down"
    assert result.output["response"]["statusCode"] == 503


def test_http_read_timeout_fails_the_task(
    settings: Settings, executors: CommandsReader, server: str
) -> None:
    request = {"uri": f"{server}/slow", "method": "GET", "readTimeOut": 300}
    started = time.monotonic()
    result = run_task(settings, executors, "HTTP", {"http_request": request})
    assert result.status is TaskStatus.FAILED
    assert result.reason.startswith("Failed to invoke HTTP task due to: ReadTimeout")
    assert time.monotonic() - started < 10


def test_http_to_a_denied_host_is_a_terminal_error(
    settings: Settings, executors: CommandsReader, server: str
) -> None:
    denied = server.replace("127.0.0.1", "localhost")
    result = run_task(
        settings, executors, "HTTP", {"http_request": {"uri": f"{denied}/echo", "method": "GET"}}
    )
    assert result.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason == "host localhost is not allowed"


def test_http_redirect_to_a_denied_host_is_refused_too(
    settings: Settings, executors: CommandsReader, server: str
) -> None:
    request = {"uri": f"{server}/redirect", "method": "GET"}
    result = run_task(settings, executors, "HTTP", {"http_request": request})
    assert result.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason == "host localhost is not allowed"


def read_one(settings: Settings, topic: str, timeout: float = 15) -> Any:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"probe-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                return message
    finally:
        consumer.close()
    raise AssertionError(f"nothing on {topic} within {timeout} s")


def make_topic(settings: Settings) -> str:
    topic = f"{settings.topic_prefix}.user-events"
    assert ensure_topics(settings, [TopicSpec(topic, 2)]).ok
    return topic


def test_event_to_a_kafka_sink_publishes_the_input_with_workflow_fields(
    settings: Settings, executors: CommandsReader
) -> None:
    topic = make_topic(settings)
    result = run_task(
        settings, executors, "EVENT", {"sink": f"kafka:{topic}", "orderId": 42, "status": "paid"}
    )
    assert result.status is TaskStatus.COMPLETED, result.reason
    assert result.output["event_produced"] == f"kafka:{topic}"
    message = read_one(settings, topic)
    payload = json.loads(message.value())
    assert payload["orderId"] == 42 and payload["status"] == "paid"
    assert payload["workflowInstanceId"] == result.workflow_id
    assert payload["workflowType"] == "test_workflow"
    assert message.key() == result.task_id.encode()


def test_event_to_a_conductor_sink_publishes_to_the_event_queues_topic(
    settings: Settings, executors: CommandsReader
) -> None:
    task_input = {"sink": "conductor", "asyncComplete": False, "orderId": 7}
    result = run_task(settings, executors, "EVENT", task_input)

    assert result.status is TaskStatus.COMPLETED, result.reason
    queue = "conductor:test_workflow:EVENT_ref"  # conductor:<workflow name>:<task ref>
    assert result.output["event_produced"] == queue
    message = read_one(settings, f"{settings.topic_prefix}.event-queues")
    assert message.key() == queue.encode()
    assert json.loads(message.value()) == result.output  # Conductor publishes the output
    headers = dict(message.headers())
    assert headers["message-id"] == result.task_id.encode()
    assert headers["workflow-id"] == result.workflow_id.encode()


def test_event_with_async_complete_stays_in_progress_after_publishing(
    settings: Settings, executors: CommandsReader
) -> None:
    task_input = {"sink": "conductor:approvals", "asyncComplete": True}
    result = run_task(settings, executors, "EVENT", task_input)

    assert result.status is TaskStatus.IN_PROGRESS, result.reason
    assert result.callback_after_seconds == 0
    assert result.output["event_produced"] == "conductor:test_workflow:approvals"


def test_event_to_an_unknown_sink_fails_terminally(
    settings: Settings, executors: CommandsReader
) -> None:
    result = run_task(settings, executors, "EVENT", {"sink": "sqs:orders"})
    assert result.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason == "Invalid / Unsupported sink specified: sqs:orders"


def test_kafka_publish_sends_json_value_key_and_headers(
    settings: Settings, executors: CommandsReader
) -> None:
    topic = make_topic(settings)
    request = {
        "topic": topic,
        "value": {"invoice": "INV-7", "amount": 12.5},
        "key": "customer-9",
        "headers": {"x-source": "orchestrator", "x-n": 3},
    }
    result = run_task(settings, executors, "KAFKA_PUBLISH", {"kafka_request": request})
    assert result.status is TaskStatus.COMPLETED, result.reason
    assert result.output == {}
    message = read_one(settings, topic)
    assert json.loads(message.value()) == {"invoice": "INV-7", "amount": 12.5}
    assert message.key() == b"customer-9"
    assert dict(message.headers()) == {"x-source": b"orchestrator", "x-n": b"3"}


def test_kafka_publish_to_a_missing_topic_fails_fast(
    settings: Settings, executors: CommandsReader
) -> None:
    request = {"topic": f"{settings.topic_prefix}.does-not-exist.{uuid.uuid4().hex}", "value": 1}
    started = time.monotonic()
    result = run_task(settings, executors, "KAFKA_PUBLISH", {"kafka_request": request})
    # The project's brokers do not auto-create topics (auto.create.topics.enable=false).
    assert result.status is TaskStatus.FAILED
    assert result.reason.startswith("Failed to invoke kafka task due to: topic")
    assert "does not exist" in result.reason or "not available" in result.reason
    assert time.monotonic() - started < 10  # not librdkafka's message timeout


def test_kafka_publish_to_named_bootstrap_servers_uses_that_cluster(
    settings: Settings, executors: CommandsReader
) -> None:
    topic = make_topic(settings)
    request = {
        "topic": topic,
        "value": "plain text",
        "bootStrapServers": settings.kafka_bootstrap,
        "key": 77,
        "keySerializer": "org.apache.kafka.common.serialization.LongSerializer",
    }
    result = run_task(settings, executors, "KAFKA_PUBLISH", {"kafka_request": request})
    assert result.status is TaskStatus.COMPLETED, result.reason
    message = read_one(settings, topic)
    assert message.value() == b'"plain text"'  # JSON-encoded, as Conductor does
    assert message.key() == (77).to_bytes(8, "big")


def test_kafka_publish_without_a_request_fails_with_conductors_message(
    settings: Settings, executors: CommandsReader
) -> None:
    result = run_task(settings, executors, "KAFKA_PUBLISH", {"topic": "x"})
    assert result.status is TaskStatus.FAILED
    assert result.reason.startswith("Missing Kafka request.")
