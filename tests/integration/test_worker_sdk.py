"""The worker SDK against the real Kafka (`make stack-up`): dispatches in, results out.

Each test has its own TOPIC_PREFIX and deletes its topics. A missing broker is a failure.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from orchestrator.domain.commands import ReportTaskResult, TaskStarted
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.kafka.admin import KafkaUnavailable, admin_client, delete_topics, ensure_topics
from orchestrator.kafka.clients import murmur2_partition, producer_config
from orchestrator.kafka.topics import TopicNames, core_topics
from orchestrator.settings import Settings, load_settings
from orchestrator.worker import InProgress, TaskContext, TerminalError, WorkerGroup, worker_task
from orchestrator.worker.runner import group_id
from orchestrator.worker.testing import CommandsReader, make_dispatch, produce_dispatch

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(90)]

WORKER_ID = "it-worker-1"


def kafka_settings(**overrides: Any) -> Iterator[Settings]:
    if not os.environ.get("ORCHESTRATOR_KAFKA_BOOTSTRAP"):
        pytest.fail(
            "ORCHESTRATOR_KAFKA_BOOTSTRAP is not set: run `make stack-up` and source .stack/env"
        )
    prefix = f"itw-{uuid.uuid4().hex[:10]}"
    settings = load_settings(
        overrides={"topic_prefix": prefix, "worker_id": WORKER_ID, **overrides}
    )
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
def settings() -> Iterator[Settings]:
    yield from kafka_settings()


@pytest.fixture
def reader(settings: Settings) -> Iterator[CommandsReader]:
    commands = CommandsReader(settings)
    yield commands
    commands.close()


def result_for(task_id: str, status: TaskStatus | None = None):  # type: ignore[no-untyped-def]
    def match(command: Any) -> bool:
        return (
            isinstance(command, ReportTaskResult)
            and command.task_id == task_id
            and (status is None or command.status is status)
        )

    return match


def test_completed_result_is_keyed_by_the_root_id_on_its_murmur2_partition(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("double")
    def double(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"value": task_input["value"] * 2}

    root = f"root-{uuid.uuid4()}"
    dispatch = make_dispatch("double", {"value": 21}, root_workflow_id=root)
    produce_dispatch(settings, dispatch)
    with WorkerGroup([double], settings, grace_seconds=5):
        record = reader.wait_for(result_for(dispatch.task_id))
    command = record.command
    assert command.status is TaskStatus.COMPLETED
    assert command.output == {"value": 42}
    assert command.workflow_id == dispatch.workflow_instance_id != root
    assert command.root_workflow_id == root
    assert record.key == root.encode()
    assert record.partition == murmur2_partition(root, settings.partitions)
    assert command.actor == f"worker:{WORKER_ID}" and command.worker_id == WORKER_ID


def test_failing_function_reports_failed_with_type_message_and_traceback(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("explode")
    def explode(task_input: dict[str, Any]) -> None:
        raise ValueError(f"cannot handle {task_input['n']}")

    dispatch = make_dispatch("explode", {"n": 7})
    produce_dispatch(settings, dispatch)
    with WorkerGroup([explode], settings, grace_seconds=5):
        command = reader.wait_for(result_for(dispatch.task_id)).command
    assert command.status is TaskStatus.FAILED
    assert command.reason == "ValueError: cannot handle 7"
    assert command.logs[0].startswith("Traceback")


def test_terminal_error_reports_failed_with_terminal_error(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("refuse")
    async def refuse(task_input: dict[str, Any]) -> None:
        raise TerminalError("account closed", output={"account": task_input["account"]})

    dispatch = make_dispatch("refuse", {"account": "A-1"})
    produce_dispatch(settings, dispatch)
    with WorkerGroup([refuse], settings, grace_seconds=5):
        command = reader.wait_for(result_for(dispatch.task_id)).command
    assert command.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert command.reason == "TerminalError: account closed"
    assert command.output == {"account": "A-1"}


def test_heartbeat_reaches_the_engine_before_the_result(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("long_job")
    def long_job(task: TaskContext) -> dict[str, Any]:
        task.heartbeat(output={"percent": 50})
        time.sleep(0.3)
        return {"percent": 100}

    dispatch = make_dispatch("long_job", {})
    produce_dispatch(settings, dispatch)
    with WorkerGroup([long_job], settings, grace_seconds=5):
        reader.wait_for(result_for(dispatch.task_id, TaskStatus.COMPLETED))
    mine = [
        r.command
        for r in reader.records
        if r.command.task_id == dispatch.task_id and isinstance(r.command, ReportTaskResult)
    ]
    assert [c.status for c in mine] == [TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED]
    assert mine[0].output == {"percent": 50} and mine[0].callback_after_seconds == 0
    assert mine[0].extend_lease  # a heartbeat keeps the task (Conductor's extendLease)


def test_in_progress_return_asks_for_a_callback(settings: Settings, reader: CommandsReader) -> None:
    @worker_task("poll_later")
    def poll_later(task_input: dict[str, Any]) -> InProgress:
        return InProgress(callback_after_seconds=15, output={"state": "waiting"})

    dispatch = make_dispatch("poll_later", {})
    produce_dispatch(settings, dispatch)
    with WorkerGroup([poll_later], settings, grace_seconds=5):
        command = reader.wait_for(result_for(dispatch.task_id)).command
    assert command.status is TaskStatus.IN_PROGRESS
    assert command.callback_after_seconds == 15 and command.output == {"state": "waiting"}
    assert not command.extend_lease  # hand it out again: back to SCHEDULED in the engine


def test_duplicate_dispatch_of_a_running_task_is_executed_once(
    settings: Settings, reader: CommandsReader
) -> None:
    calls: list[str] = []

    @worker_task("slow_once", concurrency=4)
    def slow_once(task: TaskContext) -> dict[str, Any]:
        calls.append(task.task_id)
        time.sleep(1.5)
        return {}

    dispatch = make_dispatch("slow_once", {})
    producer = Producer(producer_config(settings))
    produce_dispatch(settings, dispatch, producer=producer)
    produce_dispatch(settings, dispatch, producer=producer)
    producer.flush(10)
    with WorkerGroup([slow_once], settings, grace_seconds=5):
        reader.wait_for(result_for(dispatch.task_id))
        reader.poll(1.0)  # a second result would arrive by now
    assert calls == [dispatch.task_id]
    results = [
        r
        for r in reader.records
        if r.command.task_id == dispatch.task_id and isinstance(r.command, ReportTaskResult)
    ]
    assert len(results) == 1


def commands_of_one_task(
    settings: Settings, reader: CommandsReader, worker: Any, linger_s: float = 0.0
) -> tuple[DispatchTask, list[Any]]:
    """Run ``worker`` on one dispatch of its type; every command sent about that task."""
    spec = worker.__worker_task__
    dispatch = make_dispatch(spec.task_type, {})
    produce_dispatch(settings, dispatch)
    with WorkerGroup([worker], settings, grace_seconds=5):
        reader.wait_for(result_for(dispatch.task_id, TaskStatus.COMPLETED))
        if linger_s:
            reader.poll(linger_s)  # a late acknowledgement would arrive by now
    return dispatch, [r.command for r in reader.records if r.command.task_id == dispatch.task_id]


def test_worker_acknowledges_a_task_still_running_after_the_ack_delay(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("acked_job", ack_after_ms=100)
    def acked_job(task_input: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.6)
        return {"ok": True}

    dispatch, mine = commands_of_one_task(settings, reader, acked_job)
    assert [type(c) for c in mine] == [TaskStarted, ReportTaskResult]
    assert mine[0].root == dispatch.root_workflow_id and mine[0].worker_id
    assert mine[1].started_at is None  # the pickup went out on its own
    assert 400 <= mine[1].at - mine[0].at <= 1000  # acknowledged ~100 ms in, not at the end


def test_worker_reports_a_fast_task_with_its_pickup_in_one_record(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("fast_job")
    def fast_job(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    _, mine = commands_of_one_task(settings, reader, fast_job, linger_s=0.5)
    assert [type(c) for c in mine] == [ReportTaskResult]
    assert mine[0].started_at is not None and 0 <= mine[0].at - mine[0].started_at < 100


def test_worker_with_ack_after_zero_acknowledges_at_once(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("eager_ack_job", ack_after_ms=0)
    def eager_ack_job(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    _, mine = commands_of_one_task(settings, reader, eager_ack_job)
    assert [type(c) for c in mine] == [TaskStarted, ReportTaskResult]
    assert mine[1].started_at is None


def test_worker_without_ack_sends_only_the_result(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("unacked_job", ack=False)
    def unacked_job(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    _, mine = commands_of_one_task(settings, reader, unacked_job, linger_s=0.5)
    assert [type(c) for c in mine] == [ReportTaskResult]


def test_tasks_of_one_type_run_concurrently(settings: Settings, reader: CommandsReader) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    @worker_task("parallel", concurrency=4)
    def parallel(task_input: dict[str, Any]) -> dict[str, Any]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.6)
        with lock:
            running[0] -= 1
        return {}

    dispatches = [make_dispatch("parallel", {"i": i}) for i in range(8)]
    for dispatch in dispatches:
        produce_dispatch(settings, dispatch)
    with WorkerGroup([parallel], settings, grace_seconds=5):
        for dispatch in dispatches:
            reader.wait_for(result_for(dispatch.task_id))
    assert peak[0] == 4  # as many as allowed, never more


def committed(settings: Settings, spec_task_type: str) -> int:
    """Sum of the committed offsets of the worker group over the task topic's partitions."""

    @worker_task(spec_task_type)
    def _probe() -> None: ...

    group = group_id(settings.topic_prefix, _probe.__worker_task__)  # type: ignore[attr-defined]
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    topic = TopicNames.from_settings(settings).task(spec_task_type)
    parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
    offsets = consumer.committed(parts, timeout=10)
    consumer.close()
    return sum(max(tp.offset, 0) for tp in offsets)


def test_graceful_shutdown_finishes_the_running_task_and_commits_it(
    settings: Settings, reader: CommandsReader
) -> None:
    started = threading.Event()

    @worker_task("finish_me")
    def finish_me(task_input: dict[str, Any]) -> dict[str, Any]:
        started.set()
        time.sleep(1.0)
        return {"finished": True}

    dispatch = make_dispatch("finish_me", {})
    produce_dispatch(settings, dispatch)
    group = WorkerGroup([finish_me], settings, grace_seconds=10)
    group.start()
    assert started.wait(20)
    group.stop()  # while the function still sleeps
    command = reader.wait_for(result_for(dispatch.task_id), timeout=5).command
    assert command.output == {"finished": True}
    assert committed(settings, "finish_me") == 1


def test_task_abandoned_at_shutdown_is_not_committed_and_runs_again(
    settings: Settings, reader: CommandsReader
) -> None:
    release = threading.Event()
    runs: list[int] = []

    @worker_task("stuck")
    def stuck(task_input: dict[str, Any]) -> dict[str, Any]:
        runs.append(1)
        if len(runs) == 1:
            release.wait(30)  # the first run outlives the grace period
        return {"run": len(runs)}

    dispatch = make_dispatch("stuck", {})
    produce_dispatch(settings, dispatch)
    group = WorkerGroup([stuck], settings, grace_seconds=0.5)
    group.start()
    deadline = time.monotonic() + 20
    while not runs and time.monotonic() < deadline:
        time.sleep(0.05)
    group.stop()
    assert committed(settings, "stuck") == 0
    with WorkerGroup([stuck], settings, grace_seconds=5):  # "another worker" takes over
        command = reader.wait_for(result_for(dispatch.task_id)).command
    release.set()
    assert command.output == {"run": 2}


def test_undecodable_record_is_dead_lettered_and_the_worker_goes_on(
    settings: Settings, reader: CommandsReader
) -> None:
    @worker_task("robust")
    def robust(task_input: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    names = TopicNames.from_settings(settings)
    ensure_topics(settings, [*core_topics(settings)])
    producer = Producer(producer_config(settings))
    with WorkerGroup([robust], settings, grace_seconds=5):
        producer.produce(names.task("robust"), key=b"junk", value=b"not avro at all")
        producer.flush(10)
        dispatch = make_dispatch("robust", {})
        produce_dispatch(settings, dispatch)
        assert reader.wait_for(result_for(dispatch.task_id)).command.output == {"ok": True}
    dlq = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"dlq-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    dlq.subscribe([names.dlq])
    from orchestrator.codec import wire

    letter = None
    deadline = time.monotonic() + 15
    while letter is None and time.monotonic() < deadline:
        message = dlq.poll(0.2)
        if message is not None and not message.error():
            letter = wire.decode_dead_letter(message.value())
    dlq.close()
    assert letter is not None and letter.value == b"not avro at all"
    assert letter.component == f"worker:{WORKER_ID}"


SECRET = "tok-9f8e7d6c5b4a-secret"


def test_secret_value_never_reaches_the_commands_topic_nor_the_log(
    settings: Settings,
    reader: CommandsReader,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_SECRET_API_TOKEN", SECRET)

    @worker_task("call_api")
    def call_api(task: TaskContext) -> dict[str, Any]:
        token = task.input["auth"]
        assert token == f"Bearer {SECRET}"  # the function does see it
        task.log(f"calling with {token}")
        task.heartbeat(output={"auth": token})
        if task.input["mode"] == "fail":
            raise PermissionError(f"server rejected {token}")
        return {"echo": token}

    caplog.set_level(logging.DEBUG)
    dispatches = [
        make_dispatch("call_api", {"auth": "Bearer ${workflow.secrets.API_TOKEN}", "mode": m})
        for m in ("ok", "fail")
    ]
    missing = make_dispatch("call_api", {"auth": "${workflow.secrets.NOT_SET}", "mode": "ok"})
    for dispatch in [*dispatches, missing]:
        produce_dispatch(settings, dispatch)
    with WorkerGroup([call_api], settings, grace_seconds=5):
        reader.wait_for(result_for(dispatches[0].task_id, TaskStatus.COMPLETED))
        reader.wait_for(result_for(dispatches[1].task_id, TaskStatus.FAILED))
        failed = reader.wait_for(result_for(missing.task_id)).command
    assert failed.status is TaskStatus.FAILED and "'NOT_SET'" in (failed.reason or "")
    assert len(reader.records) >= 5  # 2 heartbeats, 2 results, 1 missing-secret failure
    for record in reader.records:
        assert SECRET.encode() not in record.value
    assert SECRET not in caplog.text
    assert "***" in caplog.text  # the failure was logged, redacted


def test_two_worker_processes_share_the_task_topic(
    settings: Settings, reader: CommandsReader
) -> None:

    lock = threading.Lock()
    ran_by: dict[str, list[str]] = {"w1": [], "w2": []}

    def make(worker: str):  # type: ignore[no-untyped-def]
        @worker_task("shared")
        def shared(task: TaskContext) -> dict[str, Any]:
            with lock:
                ran_by[worker].append(task.task_id)
            time.sleep(0.05)
            return {"by": worker}

        return shared

    first = WorkerGroup([make("w1")], settings.replace(worker_id="w1"), grace_seconds=5)
    first.start()
    warmup = make_dispatch("shared", {})
    produce_dispatch(settings, warmup)
    reader.wait_for(result_for(warmup.task_id))
    second = WorkerGroup([make("w2")], settings.replace(worker_id="w2"), grace_seconds=5)
    second.start()  # joins the group: cooperative rebalance hands it some partitions
    time.sleep(3)
    dispatches = [make_dispatch("shared", {"i": i}) for i in range(40)]
    for dispatch in dispatches:
        produce_dispatch(settings, dispatch)
    try:
        for dispatch in dispatches:
            reader.wait_for(result_for(dispatch.task_id))
    finally:
        second.stop()
        first.stop()
    executed = ran_by["w1"] + ran_by["w2"]
    assert sorted(executed) == sorted([warmup.task_id] + [d.task_id for d in dispatches])
    assert ran_by["w2"], "the second worker got no partition"
    assert set(ran_by["w1"]) - {warmup.task_id}, "the first worker lost all its partitions"


def test_worker_command_runs_module_workers_and_stops_on_sigterm(
    settings: Settings, reader: CommandsReader
) -> None:
    import signal
    import subprocess
    import sys

    env = {
        **os.environ,
        "ORCHESTRATOR_TOPIC_PREFIX": settings.topic_prefix,
        "ORCHESTRATOR_WORKER_ID": "cli-worker",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "worker", "orchestrator.demo.workers", "--system"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        dispatch = make_dispatch("fetch_image", {"imageUrl": "https://images.example.com/a.jpg"})
        produce_dispatch(settings, dispatch)
        command = reader.wait_for(result_for(dispatch.task_id), timeout=30).command
        assert command.status is TaskStatus.COMPLETED
        assert command.output["image"]["source"] == "https://images.example.com/a.jpg"
        assert command.worker_id == "cli-worker"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    for polled in ("fetch_image", "resize_image", "watermark", "upload", "HTTP", "EVENT"):
        assert f"{settings.topic_prefix}.tasks.{polled}" in output
