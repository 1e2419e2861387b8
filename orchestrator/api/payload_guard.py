"""Payloads arriving over HTTP: refused over their maximum, stored when large, never a 500.

- ``check(rt, command)``: every JSON payload of a command against its hard maximum
  (ORCHESTRATOR_MAX_*_PAYLOAD_KB): 413 naming the request field, the size and the limit.
- ``encode(rt, command, command_id)``: the command's record; a large payload is written to the
  payload store off the event loop; a store that cannot be reached is 503 (retryable), a record
  that cannot fit in Kafka even with its payloads stored is 413.
- ``produce(rt, command, command_id)``: ``encode`` then send, a Kafka delivery failure as 503
  (413 if Kafka says the record is too large).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from orchestrator.api.errors import ApiError
from orchestrator.api.kafka_out import DeliveryFailed
from orchestrator.codec.wire_payloads import RecordTooLarge, payload_kind
from orchestrator.domain import commands as cmd
from orchestrator.payloads.limits import PayloadPolicy, PayloadTooLarge
from orchestrator.payloads.store import PayloadUnavailable

if TYPE_CHECKING:
    from orchestrator.api.app import Runtime

# The name a client gave each payload, per command record and field.
REQUEST_FIELDS: dict[tuple[str, str], str] = {
    ("StartWorkflow", "input"): "input",
    ("ReportTaskResult", "output"): "outputData",
    ("UpdateTaskByRef", "output"): "the request body (the task output)",
    ("RerunWorkflow", "workflow_input"): "workflowInput",
    ("RerunWorkflow", "task_input"): "taskInput",
    ("SkipTask", "input"): "taskInput",
    ("SkipTask", "output"): "taskOutput",
}
_PAYLOAD_FIELDS: dict[type, tuple[str, ...]] = {
    cmd.StartWorkflow: ("input",),
    cmd.ReportTaskResult: ("output",),
    cmd.UpdateTaskByRef: ("output",),
    cmd.RerunWorkflow: ("workflow_input", "task_input"),
    cmd.SkipTask: ("input", "output"),
}
TOO_LARGE = 413
UNAVAILABLE = 503
_OFF_LOOP = 16 * 1024  # a payload this large is encoded in a thread (it may be stored)


def policy_of(rt: Runtime) -> PayloadPolicy:
    payloads = rt.wire.payloads
    return payloads.policy if payloads is not None else PayloadPolicy.from_settings(rt.settings)


def too_large(exc: PayloadTooLarge | RecordTooLarge, extra: str = "") -> ApiError:
    return ApiError(TOO_LARGE, f"Payload too large: {exc}{extra}", code="PAYLOAD_TOO_LARGE")


def check(rt: Runtime, command: cmd.Command) -> int:
    """The largest payload size of ``command``; 413 if one is over its maximum."""
    largest = 0
    record = type(command).__name__
    for name in _PAYLOAD_FIELDS.get(type(command), ()):
        value = getattr(command, name)
        if value is None:
            continue
        what = f"The request field {REQUEST_FIELDS.get((record, name), name)}"
        try:
            size = policy_of(rt).check(payload_kind(record, name), value, what)
        except PayloadTooLarge as exc:
            raise too_large(exc) from None
        largest = max(largest, size)
    return largest


async def encode(rt: Runtime, command: cmd.Command, command_id: str | None = None) -> bytes:
    largest = check(rt, command)
    command_id = command_id or str(uuid.uuid4())
    try:
        if largest < _OFF_LOOP:
            return rt.wire.encode_command(command, command_id=command_id)
        return await asyncio.to_thread(rt.wire.encode_command, command, command_id=command_id)
    except PayloadUnavailable as exc:
        raise ApiError(UNAVAILABLE, f"The payload could not be stored, try again: {exc}") from None
    except RecordTooLarge as exc:
        raise too_large(exc) from None


async def produce(rt: Runtime, command: cmd.Command, command_id: str | None = None) -> None:
    value = await encode(rt, command, command_id)
    try:
        await rt.producer.send(rt.topics.commands, command.root, value)
    except DeliveryFailed as exc:
        if "MSG_SIZE_TOO_LARGE" in str(exc):  # not expected: records are kept under the limit
            raise ApiError(TOO_LARGE, f"Payload too large for Kafka: {exc}") from None
        raise ApiError(UNAVAILABLE, f"The command was not stored, try again: {exc}") from None


__all__ = ["check", "encode", "policy_of", "produce", "too_large"]
