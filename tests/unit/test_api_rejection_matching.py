"""The API side of engine rejections (orchestrator/api/rejections.py), without Kafka: matching a
rejection record to the request that sent the command, and what the request then answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from orchestrator.api.errors import ApiError
from orchestrator.api.rejections import RejectionFollower, rejection_error, send_and_wait
from orchestrator.codec.wire import decode_command_envelope, default_wire
from orchestrator.codec.wire_infra import Rejection
from orchestrator.domain import commands as cmd
from orchestrator.domain.outcome import RejectionCode
from orchestrator.kafka.topics import TopicNames


def pause(at: int = 1_700_000_000_000, workflow_id: str = "wf-1") -> cmd.PauseWorkflow:
    return cmd.PauseWorkflow(workflow_id=workflow_id, at=at, actor="api:alice")


def rejection_of(
    command: cmd.Command, code: str, reason: str, command_id: str | None = None
) -> Rejection:
    """The record as the processor publishes it (through the real codec)."""
    wire = default_wire()
    data = wire.encode_rejection(
        command, code, reason, rejected_at=command.at, command_id=command_id
    )
    return wire.decode_rejection(data)


def follower() -> RejectionFollower:
    return RejectionFollower("127.0.0.1:1", "t.rejections", default_wire())  # never started


async def test_a_rejection_without_command_id_finds_its_request_by_the_commands_fingerprint() -> (
    None
):
    rejections = follower()
    sent, refused = rejections.expect(pause(), "id-1")
    _, untouched = rejections.expect(pause(workflow_id="wf-2"), "id-2")
    rejections._arrived(rejection_of(sent, "WORKFLOW_TERMINAL", "workflow has ended (COMPLETED)"))
    assert refused.done() and refused.result().reason == "workflow has ended (COMPLETED)"
    assert not untouched.done()


async def test_a_rejection_with_a_command_id_finds_its_request_by_that_id() -> None:
    rejections = follower()
    _, refused = rejections.expect(pause(), "id-1")
    stranger = cmd.PauseWorkflow(workflow_id="elsewhere", at=1, actor="api:bob")
    rejections._arrived(rejection_of(stranger, "NOT_RUNNING", "paused", command_id="id-1"))
    assert refused.result().code == "NOT_RUNNING"


async def test_identical_commands_waiting_at_once_get_distinct_fingerprints() -> None:
    rejections = follower()
    first, refused_first = rejections.expect(pause(), "id-1")
    second, refused_second = rejections.expect(pause(), "id-2")
    assert second.at == first.at + 1  # so each rejection matches exactly one request
    rejections._arrived(rejection_of(second, "NOT_RUNNING", "workflow is already paused"))
    assert refused_second.done() and not refused_first.done()


async def test_a_forgotten_request_is_not_resolved_by_a_late_rejection() -> None:
    rejections = follower()
    sent, refused = rejections.expect(pause(), "id-1")
    rejections.forget(sent, "id-1")
    rejections._arrived(rejection_of(sent, "WORKFLOW_TERMINAL", "ended"))
    assert not refused.done()
    again, _ = rejections.expect(pause(), "id-3")
    assert again.at == sent.at  # the fingerprint is free again


@pytest.mark.parametrize(
    "code,status",
    [
        (RejectionCode.WORKFLOW_TERMINAL, 409),
        (RejectionCode.WORKFLOW_NOT_TERMINAL, 409),
        (RejectionCode.NOTHING_TO_RETRY, 409),
        (RejectionCode.WORKFLOW_NOT_FOUND, 404),
        (RejectionCode.TASK_NOT_FOUND, 404),
        (RejectionCode.INVALID_REQUEST, 400),
        ("A_CODE_OF_A_NEWER_ENGINE", 409),
    ],
)
def test_rejection_codes_map_to_conductors_statuses(code: str, status: int) -> None:
    error = rejection_error(rejection_of(pause(), code, "because"))
    assert (error.status, error.code) == (status, str(code))
    assert error.message == "Workflow wf-1: PauseWorkflow refused by the engine: because"


# --- send_and_wait with stand-ins for Kafka and the projection watch ------------------------


@dataclass
class FakeProducer:
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append((topic, key, value))


class FakeWatch:
    """Runs the action, then polls the condition as ProjectionWatch does (without Postgres)."""

    async def wait_for(
        self,
        workflow_id: str,
        condition: Callable[[], Awaitable[bool]],
        timeout_s: float,
        action: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        if action is not None:
            await action()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if await condition():
                return True
            await asyncio.sleep(0.01)
        return False


@dataclass
class FakeRuntime:
    rejections: RejectionFollower = field(default_factory=follower)
    producer: FakeProducer = field(default_factory=FakeProducer)
    watch: FakeWatch = field(default_factory=FakeWatch)
    wire: Any = field(default_factory=default_wire)
    topics: TopicNames = field(default_factory=lambda: TopicNames("t"))


def refuse_when_sent(rt: FakeRuntime, code: str, reason: str) -> None:
    """The engine: every command produced is refused (the record as the processor writes it,
    without the command id: matched by fingerprint)."""
    original = rt.producer.send

    async def send(topic: str, key: str, value: bytes) -> None:
        await original(topic, key, value)
        command = decode_command_envelope(value).command
        loop = asyncio.get_running_loop()
        loop.call_later(0.02, rt.rejections._arrived, rejection_of(command, code, reason))

    rt.producer.send = send  # type: ignore[method-assign]


async def never() -> bool:
    return False


async def test_send_and_wait_raises_the_engines_refusal_before_the_bound() -> None:
    rt = FakeRuntime()
    refuse_when_sent(rt, "WORKFLOW_TERMINAL", "workflow has ended (COMPLETED)")
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(ApiError) as raised:
        await send_and_wait(rt, pause(), never, wait_s=5)  # type: ignore[arg-type]
    assert (raised.value.status, raised.value.code) == (409, "WORKFLOW_TERMINAL")
    assert loop.time() - began < 1
    assert rt.rejections._by_print == {} and rt.rejections._by_id == {}  # nothing left behind


async def test_send_and_wait_treats_an_accepted_refusal_as_done() -> None:
    rt = FakeRuntime()
    refuse_when_sent(rt, "NOT_RUNNING", "workflow is already paused")
    done = await send_and_wait(rt, pause(), never, 5, accept=["NOT_RUNNING"])  # type: ignore[arg-type]
    assert done is True


async def test_send_and_wait_is_true_once_applied_and_false_past_the_bound() -> None:
    rt = FakeRuntime()
    applied = asyncio.Event()

    async def visible() -> bool:
        return applied.is_set()

    asyncio.get_running_loop().call_later(0.05, applied.set)
    assert await send_and_wait(rt, pause(), visible, 5) is True  # type: ignore[arg-type]
    assert await send_and_wait(rt, pause(), never, 0.1) is False  # type: ignore[arg-type]
    [(topic, key, value), _] = rt.producer.sent
    assert (topic, key) == ("t.commands", "wf-1")
    assert decode_command_envelope(value).command_id  # every command carries an id
