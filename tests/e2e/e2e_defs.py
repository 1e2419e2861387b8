"""Task definitions of the e2e workers (tests/e2e/e2e_workers.py) and small definition builders."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_task_def

WORKERS_MODULE = "tests.e2e.e2e_workers"


def task_defs() -> list[TaskDef]:
    base = {"retryCount": 0, "retryDelaySeconds": 0, "responseTimeoutSeconds": 30}
    raw: list[dict[str, Any]] = [
        {**base, "name": "e2e_echo"},
        {**base, "name": "e2e_add"},
        {**base, "name": "e2e_flaky", "retryCount": 2, "retryDelaySeconds": 1},
        {**base, "name": "e2e_fail"},
        {**base, "name": "e2e_terminal", "retryCount": 3},
        {
            **base,
            "name": "e2e_slow",
            "retryCount": 1,
            "timeoutSeconds": 2,
            "timeoutPolicy": "RETRY",
            "responseTimeoutSeconds": 2,
        },
        {**base, "name": "e2e_secret_hash"},
    ]
    return [parse_task_def(d) for d in raw]


def simple(ref: str, name: str = "e2e_echo", **extra: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", **extra}


def system(ref: str, task_type: str, **extra: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": task_type, **extra}


def workflow(name: str, *tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": list(tasks), **extra}
