"""Open-loop load: every start has an intended send time, and latency counts from it (as wrk2).

A producer that stalls does not delay the schedule: the starts it owes are sent as soon as it can,
each still carrying its intended time, so the stall shows up as latency (no coordinated
omission). ``rate`` starts/s for ``duration`` s, or ``burst`` starts all intended at once.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from confluent_kafka import Producer

from orchestrator.bench.workload import WORKFLOW, workflow_input
from orchestrator.codec import wire
from orchestrator.domain.commands import StartWorkflow
from orchestrator.kafka.aio import producer_config

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka


@dataclass
class Schedule:
    rate: float
    duration_s: float
    burst: int = 0

    @property
    def count(self) -> int:
        return self.burst or max(1, round(self.rate * self.duration_s))

    def offset_s(self, i: int) -> float:
        """Seconds after the run's start at which start ``i`` is meant to be sent."""
        return 0.0 if self.burst else i / self.rate


@dataclass
class LoadResult:
    intended_ms: dict[str, float] = field(default_factory=dict)  # workflow id -> intended time
    sent: int = 0
    errors: int = 0
    t0_ms: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _wait_until(t: float, stop: threading.Event) -> None:
    delay = t - time.time()
    if delay > 0:
        stop.wait(delay)


def run_kafka_load(
    kafka: Kafka, commands_topic: str, schedule: Schedule, result: LoadResult,
    stop: threading.Event,
) -> None:  # fmt: skip
    """Produce StartWorkflow commands straight to the commands topic (the users' fast path)."""
    producer = Producer(producer_config(kafka, **{"client.id": "bench-load"}))
    rng = random.Random(7)
    t0 = result.t0_ms / 1000
    for i in range(schedule.count):
        if stop.is_set():
            break
        intended = t0 + schedule.offset_s(i)
        _wait_until(intended, stop)
        wid = str(uuid.uuid4())
        command = StartWorkflow(
            workflow_id=wid,
            at=int(time.time() * 1000),
            actor="api:bench",
            name=WORKFLOW,
            version=1,
            input=workflow_input(rng),
        )
        with result.lock:
            result.intended_ms[wid] = intended * 1000
        _produce(producer, commands_topic, wid.encode(), wire.encode_command(command))
        result.sent += 1
    producer.flush(30)


def _produce(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value)
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.05)


def run_api_load(
    api_url: str,
    schedule: Schedule,
    result: LoadResult,
    stop: threading.Event,
    key: str | None = None,
) -> None:
    """POST /api/workflow at the intended times; many requests may be in flight at once."""
    asyncio.run(_api_load(api_url, schedule, result, stop, key))


async def _api_load(
    api_url: str, schedule: Schedule, result: LoadResult, stop: threading.Event, key: str | None
) -> None:
    import httpx

    rng = random.Random(7)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(
        base_url=api_url, timeout=60.0, limits=limits, headers=headers
    ) as client:
        tasks = []
        t0 = result.t0_ms / 1000
        for i in range(schedule.count):
            if stop.is_set():
                break
            intended = t0 + schedule.offset_s(i)
            delay = intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"name": WORKFLOW, "version": 1, "input": workflow_input(rng)}
            tasks.append(asyncio.create_task(_post(client, body, intended, result)))
            result.sent += 1
        await asyncio.gather(*tasks)


async def _post(
    client: object, body: dict[str, object], intended: float, result: LoadResult
) -> None:
    try:
        response = await client.post("/api/workflow", json=body)  # type: ignore[attr-defined]
    except Exception:  # a refused or timed-out request is an error of the run, not a crash
        result.errors += 1
        return
    if response.status_code >= 400:
        result.errors += 1
        return
    with result.lock:
        result.intended_ms[response.text.strip().strip('"')] = intended * 1000


def start_load(target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name="bench-load", daemon=True)
    thread.start()
    return thread
