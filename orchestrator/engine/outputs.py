"""What a processor writes for a batch: events, dispatches, emitted commands, rejections, dead
letters; and the check that keeps every one of them something Kafka will take.

The check runs inside `process_batch`, per command, before the command's outcome is accepted
(engine/step.py): each output record is encoded there, once, and measured against the record
limit (ORCHESTRATOR_MAX_RECORD_BYTES). A command whose outcome cannot be written (a record too
large, a value the codec refuses) never reaches the log: the step fails its workflow with the
reason instead, or rejects a start. So a producer error can only be a broker problem, never one
workflow's doing (issue 15: a record over the broker's limit used to crash the processor on
every restart). The encoded bytes are kept for `produce`, so nothing is encoded twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator.codec import CodecError, wire
from orchestrator.domain.commands import Command
from orchestrator.domain.effects import DispatchTask, EmitCommand
from orchestrator.domain.events import Event
from orchestrator.engine.intake import Record
from orchestrator.engine.step import BatchOutput, RetryBatch, Unpersistable
from orchestrator.flow.routing import DispatchRouter
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.aio import AsyncProducer, OutRecord
from orchestrator.kafka.dead_letters import dead_letter
from orchestrator.kafka.topics import TopicNames, task_topic_spec
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

_MB = 1024 * 1024
TOPIC_RETRY_S = (1, 2, 5, 10, 15, 30)  # then the batch fails and the process exits (replayed)


class Encoded:
    """The batch's records encoded by the check, by object (kept alive, so ids stay unique)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[int, tuple[object, bytes]] = {}

    def put(self, obj: object, value: bytes) -> None:
        self._items[id(obj)] = (obj, value)

    def get(self, obj: object) -> bytes | None:
        item = self._items.get(id(obj))
        return item[1] if item is not None and item[0] is obj else None

    def clear(self) -> None:
        self._items.clear()


class Outputs:
    def __init__(
        self, settings: Settings, topics: TopicNames, router: DispatchRouter, producer: Any
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.router = router
        self._producer = producer  # () -> AsyncProducer, made on the event loop at first use
        self.max_record_bytes: int = settings.max_record_bytes
        self.known_task_topics: set[str] = set()
        self.encoded = Encoded()
        self.dead_letters = 0

    @property
    def out(self) -> AsyncProducer:
        producer: AsyncProducer = self._producer()
        return producer

    # -- the check (called by process_batch for each command's outcome) -------------------

    def check(self, events: Sequence[tuple[Event, str | None]], effects: Sequence[object]) -> None:
        """Encode and measure one command's output records; raises Unpersistable."""
        for event, command_id in events:
            self._keep(event, lambda e=event, c=command_id: wire.encode_event(e, correlation_id=c))
        for effect in effects:
            if isinstance(effect, DispatchTask):
                self._keep(effect, lambda d=effect: wire.encode_dispatch(d))
            elif isinstance(effect, EmitCommand):
                command = effect.command
                self._keep(command, lambda c=command: wire.encode_command(c))

    def _keep(self, obj: object, encode: Any) -> None:
        try:
            value: bytes = encode()
        except PayloadUnavailable as exc:  # a large payload cannot be stored now: transient
            raise RetryBatch(str(exc)) from exc
        except CodecError as exc:
            raise Unpersistable(f"its {type(obj).__name__} cannot be encoded: {exc}") from None
        if len(value) > self.max_record_bytes:
            raise Unpersistable(
                f"its {type(obj).__name__} record would be {_size(len(value))}, over the "
                f"{_size(self.max_record_bytes)} limit of a Kafka record "
                "(ORCHESTRATOR_MAX_RECORD_BYTES)"
            )
        self.encoded.put(obj, value)

    # -- producing -------------------------------------------------------------------------

    async def produce(self, out: BatchOutput, roots: dict[bytes, Record], cache: Any) -> list[Any]:
        """Produce a batch's outputs; `roots` maps a command key (root id) to its source record.
        Returns the futures of their deliveries (one for all, plus one per dead letter)."""
        await self.ensure_task_topics(out.dispatches)
        records: list[OutRecord] = []
        add = records.append
        encoded = self.encoded.get
        events_topic = self.topics.events
        for event, command_id in out.events:
            key = (event.root_workflow_id or event.workflow_id).encode()
            value = encoded(event) or wire.encode_event(event, correlation_id=command_id)
            add((events_topic, key, value, _partition(roots, key)))
        for dispatch in out.dispatches:
            add((*self.router.route(dispatch), None))
        for notice in self.router.notices(out.events, out.states, cache):
            add((*notice, None))
        for command in out.commands:
            key = command.root.encode()
            value = encoded(command) or wire.encode_command(command)
            add((self.topics.commands, key, value, _partition(roots, key)))
        for command, rejection, command_id in out.rejections:
            add((self.topics.rejections, command.root.encode(),
                 _rejection(command, rejection, command_id), None))  # fmt: skip
        self.encoded.clear()
        futures: list[Any] = [self.out.send_all(records)]
        for failure in out.failures:
            source = roots.get(failure.command.root.encode())
            if source is not None:
                futures.append(self.dead_letter(source, failure.reason))
        return futures

    async def ensure_task_topics(self, dispatches: Iterable[DispatchTask]) -> None:
        """Create missing task topics first: a send to an absent topic would block."""
        wanted = await self.router.prepare(dispatches, encode=self._dispatch_bytes)
        missing = [w for w in wanted if self.topics.task(*w) not in self.known_task_topics]
        if not missing:
            return
        specs = [task_topic_spec(self.settings, t, d) for t, d in missing]
        loop = asyncio.get_running_loop()
        problem = ""
        for delay in TOPIC_RETRY_S:  # a broker restarting, a controller moving: transient
            try:
                report = await loop.run_in_executor(None, ensure_topics, self.settings, specs, 15.0)
            except Exception as exc:  # KafkaUnavailable and the like
                problem = str(exc)
            else:
                if report.ok:
                    self.known_task_topics.update(spec.name for spec in specs)
                    return
                problem = "; ".join(report.errors)
            log.warning("cannot create task topics yet (%s); retrying in %.0f s", problem, delay)
            await asyncio.sleep(delay)
        raise RuntimeError(f"cannot create task topics: {problem}")

    def _dispatch_bytes(self, dispatch: DispatchTask) -> bytes:
        return self.encoded.get(dispatch) or wire.encode_dispatch(dispatch)

    def dead_letter(self, source: Record, reason: str) -> Any:
        msg = source.message
        log.warning("dead letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
        self.dead_letters += 1
        key, value = dead_letter(msg, reason, "processor")
        return self.out.send(self.topics.dlq, key, value)


def _rejection(command: Command, rejection: Any, command_id: str | None) -> bytes:
    return wire.encode_rejection(
        command, rejection.code, rejection.reason, rejected_at=now_ms(), command_id=command_id
    )


def _partition(roots: dict[bytes, Record], key: bytes) -> int | None:
    """The commands partition of a workflow tree in this batch (None: let the partitioner pick)."""
    source = roots.get(key)
    return source.message.partition if source is not None else None


def _size(n: int) -> str:
    return f"{n / _MB:.2f} MB" if n >= _MB // 10 else f"{n / 1024:.1f} KB"


def now_ms() -> int:
    return int(time.time() * 1000)
