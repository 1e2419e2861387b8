"""Hard maximums of JSON payload sizes, as data the pure core is given in its Context.

Conductor's ``maxTask{Input,Output}PayloadSizeThreshold`` and friends: a payload above its
maximum is refused, not stored. The runtime checks what arrives from outside (a start request,
a worker's result: orchestrator/payloads/limits.py); the core checks what it computes itself,
e.g. the result of an INLINE or JSON_JQ_TRANSFORM task, and fails that task with
FAILED_WITH_TERMINAL_ERROR, as Conductor's ExternalPayloadStorageUtils.failTask does.

A size is the number of bytes of the value's compact JSON text (UTF-8): a pure function of the
value, so a replay decides exactly as the live run did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator.domain.definitions import JSON


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """Bytes of compact JSON text; 0 means no limit (the default: tests, tools)."""

    workflow_input: int = 0
    workflow_output: int = 0
    task_input: int = 0
    task_output: int = 0


def json_size(value: JSON) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON text (what the wire carries, give or take the
    spelling of a float)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", errors="surrogatepass"))


def over_limit(value: JSON, limit: int) -> int | None:
    """The size of ``value`` if it is over ``limit`` (> 0), else None."""
    if limit <= 0:
        return None
    size = json_size(value)
    return size if size > limit else None


def task_output_problem(limits: PayloadLimits, ref: str, output: JSON) -> str | None:
    """Why the output a task computed in the engine cannot be kept, or None if it can."""
    size = over_limit(output, limits.task_output)
    if size is None:
        return None
    return (
        f"The output of task {ref} is {size} bytes of JSON, greater than the permissible "
        f"limit of {limits.task_output} bytes for a task output"
    )
