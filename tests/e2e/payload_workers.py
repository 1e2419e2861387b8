"""Workers of the large-payload end-to-end tests (tests/e2e/test_large_payloads.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from orchestrator.worker import worker_task


def text_of(size: int, seed: str) -> str:
    """``size`` characters of incompressible hex text, the same for the same seed."""
    chunks: list[str] = []
    digest = hashlib.sha256(seed.encode()).hexdigest()
    total = 0
    while total < size:
        chunks.append(digest)
        total += len(digest)
        digest = hashlib.sha256(digest.encode()).hexdigest()
    return "".join(chunks)[:size]


def words_of(size: int, seed: str) -> str:
    """``size`` characters of distinct 31-character words separated by spaces."""
    text = text_of(size, seed)
    return " ".join(text[i : i + 31] for i in range(0, size, 32))[:size]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@worker_task("pl_big_result")
def big_result(task_input: dict[str, Any]) -> dict[str, Any]:
    """A result of ``bytes`` characters (a JSON output of bytes + 11 bytes: {"blob":"..."})."""
    return {"blob": text_of(int(task_input["bytes"]), str(task_input.get("seed", "s")))}


@worker_task("pl_measure")
def measure(task_input: dict[str, Any]) -> dict[str, Any]:
    """What the worker received: the length and digest of ``blob``."""
    blob = task_input.get("blob") or ""
    return {"length": len(blob), "sha": sha(blob)}


@worker_task("pl_gated")
def gated(task_input: dict[str, Any]) -> dict[str, Any]:
    """A task type with a concurrency limit: its tasks go through the gate."""
    return {"ok": True}
