"""``orchestrator event-handlers``: Conductor's DefaultEventProcessor on Kafka.

One consumer (group ``<p>-event-handlers``; run several processes: they share the partitions)
follows ``<p>.event-queues`` and the topic of every active ``kafka:<topic>`` handler (the
subscription follows the registered handlers). For each record, in order:

1. read it as an event message (messages.py); a record that cannot be one goes to the
   dead-letter topic with the reason;
2. for each active handler of the event (by name): its condition, then its actions
   (orchestrator/domain/event_actions.py) turned into commands (commands.py), actor
   ``event-handler:<name>``; an action that cannot run (not supported, nothing to address, a
   failing condition script) is a dead letter naming the handler and the action, and the next
   one runs;
3. every command and dead letter of the batch is produced and its delivery awaited, then the
   records' offsets are stored (committed by the consumer): at least once. A message handled
   twice after a crash starts no second workflow (its id is derived from the message) and its
   task updates are rejected by the engine as duplicates.

What the engine refuses (an unknown workflow definition, a task already ended) is recorded on
the rejections topic like any command's refusal. A delivery failure ends the process (the
supervisor restarts it; the records are read again). Nothing a message does stops it.

Where a newly followed topic is read from: a user topic from the first record written after
the earliest registration of an active handler of it (offsets for that time), the event-queues
topic from its beginning; afterwards from the group's committed offsets.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, Producer, TopicPartition

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.codec import wire
from orchestrator.domain.event_actions import EventMessage, NotRun, condition_holds, plan
from orchestrator.domain.event_handlers import EventHandler
from orchestrator.domain.ports import ScriptError
from orchestrator.events.commands import Roots, command_of
from orchestrator.events.messages import BadMessage, read_message
from orchestrator.events.registry import HandlerRegistry, follow
from orchestrator.kafka.clients import consumer_config, producer_config, take
from orchestrator.kafka.dead_letters import dead_letter, describe
from orchestrator.kafka.topics import TopicNames

log = logging.getLogger(__name__)

COMPONENT = "event-handlers"
RESUBSCRIBE_EVERY_S = 1.0
DELIVERY_TIMEOUT_S = 30.0
Out = tuple[str, bytes | None, bytes]  # (topic, key, value)


def now_ms() -> int:
    return int(time.time() * 1000)


class EventProcessor:
    def __init__(self, settings: Any, registry: HandlerRegistry | None = None) -> None:
        self.topics = TopicNames.from_settings(settings)
        self.registry = registry or HandlerRegistry()
        self.client_id = f"event-handlers-{os.uname().nodename}-{os.getpid()}"
        boot = settings  # every client: its bootstrap servers and security
        extra = {
            "partition.assignment.strategy": "range",  # eager: on_assign places every start
            "topic.metadata.refresh.interval.ms": 5_000,  # a user topic created later is seen
        }
        self.consumer = Consumer(
            consumer_config(
                boot, self.topics.event_handlers_group, client_id=self.client_id, extra=extra
            )
        )
        self.meta = Consumer(
            consumer_config(
                boot, self.topics.event_handlers_group, client_id=f"{self.client_id}-meta"
            )
        )
        self.producer = Producer(producer_config(boot, client_id=self.client_id))
        self.follower = follow(boot, self.topics.definitions, self.registry)
        self.roots = Roots(settings.database_url)
        self.scripts = DefaultScriptEvaluator()
        self._subscribed: tuple[str, ...] = ()
        self._checked = 0.0
        self._failed: str | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.follower.start()
        log.info("event handlers %s running", self.client_id)
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.consumer.close()
            self.meta.close()
            self.follower.stop()
            self.roots.close()
            self.scripts.close()

    def step(self) -> None:
        if time.monotonic() - self._checked >= RESUBSCRIBE_EVERY_S:
            self._resubscribe()
        batch = [m for m in take(self.consumer, 200, 0.2) if self._usable(m)]
        if not batch:
            return
        out: list[Out] = []
        for msg in batch:
            out.extend(self.handle(msg))
        self._send(out)
        for msg in batch:
            self.consumer.store_offsets(message=msg)

    def _usable(self, msg: Any) -> bool:
        if msg.error() is None:
            return True
        log.warning("event handlers: %s", msg.error())
        return False

    def _resubscribe(self) -> None:
        self._checked = time.monotonic()
        wanted = tuple(sorted({self.topics.event_queues, *self.registry.kafka_topics()}))
        if wanted != self._subscribed:
            self.consumer.subscribe(
                list(wanted), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            self._subscribed = wanted
            log.info("event handlers: following %s", ", ".join(wanted))

    # -- one record ---------------------------------------------------------------------------

    def handle(self, msg: Any) -> list[Out]:
        """The commands and dead letters one record gives; never raises."""
        try:
            message, hints = read_message(msg, self.topics.event_queues)
        except BadMessage as exc:
            return [self._dead_letter(msg, str(exc))]
        self.roots.learn(hints)
        out: list[Out] = []
        for handler in self.registry.handlers_for(message.event):
            try:
                out.extend(self._run_handler(handler, message, msg))
            except ScriptError as exc:
                reason = f"event handler {handler.name}: condition failed: {exc}"
                out.append(self._dead_letter(msg, reason))
            except Exception as exc:  # a bad handler or payload must not stop the processor
                log.exception("event handler %s failed on %s", handler.name, message.message_id)
                reason = f"event handler {handler.name}: {type(exc).__name__}: {exc}"
                out.append(self._dead_letter(msg, reason))
        return out

    def _run_handler(self, handler: EventHandler, message: EventMessage, msg: Any) -> list[Out]:
        if not condition_holds(handler, message.payload, self.scripts):
            log.debug("handler %s: condition false for %s", handler.name, message.message_id)
            return []
        out: list[Out] = []
        at = now_ms()
        for planned in plan(handler, message):
            command = command_of(planned, self.roots, self.registry.latest_version, at)
            if isinstance(command, NotRun):
                reason = (
                    f"event handler {command.handler}, action {command.index} "
                    f"({command.action}): {command.reason}"
                )
                out.append(self._dead_letter(msg, reason))
                continue
            command_id = f"{message.event}:{message.message_id}"
            value = wire.encode_command(command, command_id=command_id)
            out.append((self.topics.commands, command.root.encode(), value))
            log.info(
                "handler %s: %s for message %s",
                handler.name,
                type(command).__name__,
                message.message_id,
            )
        return out

    def _dead_letter(self, msg: Any, reason: str) -> Out:
        log.warning("event handlers: %s set aside: %s", describe(msg), reason)
        key, value = dead_letter(msg, reason, COMPONENT)
        return (self.topics.dlq, key, value)

    # -- output -------------------------------------------------------------------------------

    def _send(self, out: list[Out]) -> None:
        """Produce and await every record; a failure ends the process (crash-only: the records
        are read again from the last stored offsets)."""
        for topic, key, value in out:
            while True:
                try:
                    self.producer.produce(topic, key=key, value=value, on_delivery=self._delivered)
                    break
                except BufferError:
                    self.producer.poll(0.05)
        left = self.producer.flush(DELIVERY_TIMEOUT_S)
        if left or self._failed:
            log.critical(
                "event handlers: output not delivered (%s left, %s); exiting", left, self._failed
            )
            logging.shutdown()
            os._exit(70)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None and self._failed is None:
            self._failed = f"{msg.topic()}: {err}"

    # -- where partitions start ----------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        committed = self.meta.committed(partitions, timeout=30)
        since = self.registry.kafka_topics()
        starts = [self._start_of(tp, since) for tp in committed]
        consumer.assign(starts)
        log.info(
            "event handlers assigned %s",
            ", ".join(f"{t.topic}[{t.partition}]@{t.offset}" for t in starts) or "-",
        )

    def _start_of(self, tp: TopicPartition, since: dict[str, int]) -> TopicPartition:
        if tp.offset >= 0:
            return TopicPartition(tp.topic, tp.partition, tp.offset)
        if tp.topic == self.topics.event_queues or tp.topic not in since:
            return TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING)
        wanted = TopicPartition(tp.topic, tp.partition, since[tp.topic])
        [found] = self.meta.offsets_for_times([wanted], timeout=30)
        return TopicPartition(
            tp.topic, tp.partition, found.offset if found.offset >= 0 else OFFSET_END
        )

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        try:
            consumer.commit(asynchronous=False)
        except Exception as exc:  # nothing stored yet (KafkaException _NO_OFFSET)
            log.debug("event handlers: commit on revoke: %s", exc)
