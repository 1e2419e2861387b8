"""The benchmark's workers: instantaneous, each returns random output of the configured size.

Run by ``orchestrator worker orchestrator.bench.workers`` (the bench starts these processes);
the size comes from ORCHESTRATOR_BENCH_PAYLOAD_BYTES, the acknowledgement delay from
ORCHESTRATOR_BENCH_ACK_AFTER_MS (bench --ack-after-ms), both read once at import.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator.bench.workload import random_output
from orchestrator.worker import worker_task

PAYLOAD_BYTES = int(os.environ.get("ORCHESTRATOR_BENCH_PAYLOAD_BYTES", "1024"))
ACK_AFTER_MS = int(os.environ.get("ORCHESTRATOR_BENCH_ACK_AFTER_MS", "100"))
_BATCH = 500  # records per consume(): the SDK's window bounds it by 2 x concurrency anyway


def _work(_input: dict[str, Any]) -> dict[str, Any]:
    return random_output(PAYLOAD_BYTES)


@worker_task("bench_fetch", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def fetch(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)


@worker_task("bench_validate", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def validate(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)


@worker_task("bench_transform", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def transform(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)


@worker_task("bench_score", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def score(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)


@worker_task("bench_store", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def store(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)


@worker_task("bench_notify", poll_batch=_BATCH, ack_after_ms=ACK_AFTER_MS)
def notify(task_input: dict[str, Any]) -> dict[str, Any]:
    return _work(task_input)
