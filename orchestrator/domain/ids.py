"""Deterministic identifiers (uuid5). The core never mints random ids; only the edges do.

Every id is a uuid5 over a tagged, colon-separated name in one fixed namespace, so the same
inputs give the same id on every replay and on every machine.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace of this project (a uuid5 of its name under the URL namespace, frozen here).
NAMESPACE = uuid.UUID("6f1c4b8e-3d2a-5e7f-9a1b-0c2d3e4f5a6b")
_NAMESPACE_SHA1 = hashlib.sha1(NAMESPACE.bytes)  # uuid5 is SHA-1 by definition


def _uuid(*parts: object) -> str:
    """str(uuid.uuid5(NAMESPACE, "p1:p2:...")), computed directly (twice as fast: ids are
    minted on the processor's hot path); a unit test compares it with uuid.uuid5."""
    sha = _NAMESPACE_SHA1.copy()
    sha.update(":".join(str(p) for p in parts).encode())
    raw = bytearray(sha.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = raw.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def task_id(workflow_id: str, ref: str, retry_count: int, generation: int) -> str:
    """Id of one attempt of a task; `ref` includes the loop suffix (`ref__2`) when in a loop."""
    return _uuid("task", workflow_id, ref, retry_count, generation)


def child_workflow_id(parent_task_id: str) -> str:
    """Id of the workflow started by a SUB_WORKFLOW / START_WORKFLOW task attempt."""
    return _uuid("child", parent_task_id)


def failure_workflow_id(workflow_id: str, generation: int) -> str:
    """Id of the failureWorkflow started when a run (generation) of `workflow_id` fails."""
    return _uuid("failure", workflow_id, generation)


def workflow_id_for_idempotency_key(workflow_name: str, idempotency_key: str) -> str:
    """What the edge uses as workflow id when a start carries an idempotency key.

    Two starts with the same (name, key) then land on the same id, hence on the same partition
    and the same state, and `decide` applies the idempotency strategy locally (ADR 0002).
    """
    return _uuid("idempotency", workflow_name, idempotency_key)


def loop_ref(ref: str, iteration: int) -> str:
    """Conductor's reference name of a task inside a DO_WHILE iteration (`ref__N`, N >= 1)."""
    return ref if iteration <= 0 else f"{ref}__{iteration}"


def event_workflow_id(handler: str, event: str, message_id: str, action_index: int) -> str:
    """Id of the workflow an event handler's start_workflow action starts for one message: the
    same message handled again (redelivery after a crash) starts nothing new (ALREADY_EXISTS)."""
    return _uuid("event", handler, event, message_id, action_index)
