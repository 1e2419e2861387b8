"""Engine rejections reach the caller: a follower of the rejections topic, and the API's
"send a command, then wait for its effect OR its rejection".

The API's pre-checks read the projection, which may lag; the engine's ``decide`` is the
authority. When it refuses a command, the processor publishes a Rejection (code, reason, the
command's header) on ``<prefix>.rejections``. ``RejectionFollower`` reads that topic from its end
(positions fixed when it starts, so nothing produced after the start is missed), with no
consumer group (every API process must see every rejection), and resolves the future of the
request waiting for it.

Matching: by the command id when the rejection carries it; the processor does not copy it into
rejections yet (engine/processor.py), so also by the command's fingerprint (workflow id, command
type, ``at`` in ms, actor), which ``expect`` keeps unique among the requests waiting here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, TopicPartition

from orchestrator.api.errors import ApiError
from orchestrator.codec.wire import Wire
from orchestrator.codec.wire_infra import Rejection
from orchestrator.domain import commands as cmd
from orchestrator.domain.outcome import RejectionCode
from orchestrator.kafka.clients import IDLE_READER_FETCH_WAIT_MS, new_reader

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

if TYPE_CHECKING:
    from orchestrator.api.app import Runtime

log = logging.getLogger(__name__)

READY_WAIT_S = 5.0  # start() waits this long for the end offsets; later the thread keeps trying
Fingerprint = tuple[str, str, int, str]

# Conductor's statuses for the refusals: unknown things 404, malformed 400, the rest (the
# execution is in a state that forbids the operation) 409, as its ConflictException; the engine
# failing on a command (a bug) 500.
_STATUS: dict[str, int] = {
    RejectionCode.WORKFLOW_NOT_FOUND: 404,
    RejectionCode.TASK_NOT_FOUND: 404,
    RejectionCode.UNKNOWN_DEFINITION: 404,
    RejectionCode.INVALID_REQUEST: 400,
    RejectionCode.INVALID_DEFINITION: 400,
    RejectionCode.ENGINE_ERROR: 500,
    RejectionCode.NOT_RESTARTABLE: 404,  # Conductor's NotFoundException "... is non-restartable"
}


def fingerprint(command: cmd.Command) -> Fingerprint:
    return (command.workflow_id, type(command).__name__, command.at, command.actor)


def _fingerprint_of(rejection: Rejection) -> Fingerprint:
    return (rejection.workflow_id, rejection.command_type, rejection.at, rejection.actor)


def rejection_error(rejection: Rejection) -> ApiError:
    """The answer for a refused command: Conductor's status, the engine's reason and code."""
    status = _STATUS.get(rejection.code, 409)
    message = (
        f"Workflow {rejection.workflow_id}: {rejection.command_type} refused by the engine: "
        f"{rejection.reason}"
    )
    return ApiError(status, message, code=rejection.code)


class RejectionFollower:
    def __init__(self, kafka: Kafka, topic: str, wire: Wire) -> None:
        self._kafka = kafka
        self._topic = topic
        self._wire = wire
        self._by_id: dict[str, asyncio.Future[Rejection]] = {}
        self._by_print: dict[Fingerprint, asyncio.Future[Rejection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-rejections", daemon=True)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        await asyncio.to_thread(self.ready.wait, READY_WAIT_S)
        if not self.ready.is_set():
            log.warning("api: rejections topic not reachable yet; commands wait for effects only")

    async def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 5)

    # -- the request side (event loop) --------------------------------------------------------

    def expect(
        self, command: cmd.Command, command_id: str
    ) -> tuple[cmd.Command, asyncio.Future[Rejection]]:
        """Register before sending. Returns the command to send (its ``at`` moved on by a few
        ms if another waiting request of this process has the same fingerprint, so each
        rejection matches one request) and a future resolved if the engine refuses it."""
        while fingerprint(command) in self._by_print:
            command = replace(command, at=command.at + 1)
        future: asyncio.Future[Rejection] = asyncio.get_running_loop().create_future()
        self._by_id[command_id] = future
        self._by_print[fingerprint(command)] = future
        return command, future

    def forget(self, command: cmd.Command, command_id: str) -> None:
        self._by_id.pop(command_id, None)
        self._by_print.pop(fingerprint(command), None)

    def _arrived(self, rejection: Rejection) -> None:
        future = self._by_id.get(rejection.command_id or "")
        if future is None:  # no id in the record (today's processor): by the fingerprint
            future = self._by_print.get(_fingerprint_of(rejection))
        if future is not None and not future.done():
            future.set_result(rejection)

    # -- the consumer thread ------------------------------------------------------------------

    def _run(self) -> None:
        consumer = new_reader(
            self._kafka,
            **{
                # No group is joined (assign, no commits); librdkafka still wants an id.
                "group.id": f"orchestrator-api-rejections-{uuid.uuid4().hex[:8]}",
                "client.id": "orchestrator-api-rejections",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": IDLE_READER_FETCH_WAIT_MS,
            },
        )
        try:
            while not self._stop.is_set() and not self.ready.is_set():
                try:
                    consumer.assign(self._end_positions(consumer))
                    self.ready.set()
                except Exception as exc:  # Kafka down or the topic missing: keep trying
                    log.warning("api: cannot follow %s yet: %s", self._topic, exc)
                    self._stop.wait(1.0)
            while not self._stop.is_set():
                message = consumer.poll(0.1)
                if message is not None and not message.error():
                    self._deliver(message.value())
        finally:
            consumer.close()

    def _end_positions(self, consumer: Consumer) -> list[TopicPartition]:
        """Concrete end offsets (not OFFSET_END, resolved later: a record between would be lost)."""
        meta = consumer.list_topics(self._topic, timeout=READY_WAIT_S).topics[self._topic]
        if meta.error is not None or not meta.partitions:
            raise RuntimeError(f"topic {self._topic}: {meta.error or 'no partitions'}")
        positions = []
        for partition in meta.partitions:
            tp = TopicPartition(self._topic, partition)
            _, high = consumer.get_watermark_offsets(tp, timeout=READY_WAIT_S)
            positions.append(TopicPartition(self._topic, partition, high))
        return positions

    def _deliver(self, value: bytes | None) -> None:
        try:
            rejection = self._wire.decode_rejection(value or b"")
        except Exception as exc:  # not ours to dead-letter: the processor wrote it; skip
            log.warning("api: undecodable record on %s: %s", self._topic, exc)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._arrived, rejection)


# -- sending a command and waiting for its outcome -----------------------------------------------

Applied = Callable[[], Awaitable[bool]]


async def send(rt: Runtime, command: cmd.Command, command_id: str | None = None) -> None:
    """Produce ``command``: a payload over its maximum is 413, a store or Kafka outage 503."""
    from orchestrator.api.payload_guard import produce

    await produce(rt, command, command_id or str(uuid.uuid4()))


async def send_and_wait(
    rt: Runtime,
    command: cmd.Command,
    applied: Applied,
    wait_s: float,
    accept: Collection[str] = (),
) -> bool:
    """Produce ``command``; True once ``applied()`` holds in the projection, False past
    ``wait_s`` (accepted, not visible yet). A rejection by the engine raises its ApiError,
    unless its code is in ``accept`` (a refusal that means "already so": True)."""
    command_id = str(uuid.uuid4())
    command, refused = rt.rejections.expect(command, command_id)
    effect: asyncio.Future[bool] = asyncio.ensure_future(
        rt.watch.wait_for(
            command.workflow_id, applied, wait_s, action=lambda: send(rt, command, command_id)
        )
    )
    try:
        either: list[asyncio.Future[Any]] = [effect, refused]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if refused.done():
            rejection = refused.result()
            if rejection.code in accept:
                return True
            raise rejection_error(rejection)
        return effect.result()
    finally:
        rt.rejections.forget(command, command_id)
        if not effect.done():
            effect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await effect


__all__ = ["RejectionFollower", "fingerprint", "rejection_error", "send", "send_and_wait"]
