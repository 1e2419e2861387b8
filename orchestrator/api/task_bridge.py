"""The HTTP poll bridge: Conductor SDK workers poll the API, the API consumes the task topics.

A queue (task type, domain) is consumed only once an HTTP poller asked for it (lazily), in the
consumer group of the Kafka SDK workers of that queue, so each task goes to exactly one of them
(``task_subscription.py``). A queue with no poller for ``idle_s`` is unsubscribed and its
buffered tasks go back to the group uncommitted.

A poll IS the acknowledgement (Conductor's rule): for each task handed out the bridge produces a
``TaskStarted`` command (key = the root workflow id), awaits its delivery, and only then lets
the task's offset be committed. At-least-once: a crash between the two hands the task out again
later, and the engine rejects the stale duplicate ack (TASK_NOT_QUEUED). ``${workflow.secrets.X}``
is resolved at hand-off, into the response only: never logged, never produced.

A task that ended while its dispatch waited in the queue (canceled when its workflow failed or
was terminated, timed out, ...) is never handed out: before a hand-out the bridge asks
``ended`` (the read model) which of the tasks taken have ended, and drops those (their offsets
are committed). Conductor removes such tasks from its queues. The read model may lag the engine
by a few milliseconds: a task that ends within that window is still handed out, and then the
engine rejects its acknowledgement and its result (harmless, as any stale report).

Domains: ``domain`` selects the domain's task topic. Every poll is announced on the presence
topic (``orchestrator.flow.presence``, throttled; a long poll re-announces while it waits), so
the engine's dispatch routing sees this domain as active and applies Conductor's rules
(``orchestrator.flow.domains``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.api.kafka_out import AsyncProducer, DeliveryFailed
from orchestrator.api.task_json import task_json
from orchestrator.api.task_subscription import Held, QueueKey, Subscription
from orchestrator.codec.wire import Wire
from orchestrator.domain.commands import Command, ReportTaskResult, TaskStarted
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.flow.presence import PRESENCE_INTERVAL_S, PresenceAnnouncer
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.clients import new_producer
from orchestrator.kafka.dead_letters import dead_letter, describe
from orchestrator.kafka.topics import TopicNames, presence_topic_spec, task_topic_spec
from orchestrator.secrets import MissingSecrets, SecretProvider, resolve_task_secrets
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

SINGLE_POLL_WAIT_MS = 100  # GET /tasks/poll/{type}: a short wait, as Conductor's single poll
_REMEMBERED = 50_000  # handed-out tasks whose root id / queue we keep for their reports
_DEAD_LETTER_WAIT_S = 10.0
COMPONENT = "api:task-bridge"
Poller = tuple[str | None, str]  # (the worker id it sent, the actor it is recorded as)

EndedLookup = Callable[[list[str]], Awaitable[set[str]]]  # task ids -> those that have ended


@dataclass(frozen=True, slots=True)
class HandedOut:
    """What the bridge remembers of a task it handed out (to route the worker's report)."""

    root_workflow_id: str
    task_type: str
    domain: str | None
    poll_count: int


class TaskBridge:
    def __init__(
        self,
        settings: Settings,
        producer: AsyncProducer,
        wire: Wire,
        *,
        secrets: Callable[[str], str | None] | None = None,
        buffer_size: int | None = None,
        idle_s: float | None = None,
        ended: EndedLookup | None = None,
    ) -> None:
        self.settings = settings
        self._ended = ended
        self.topics = TopicNames.from_settings(settings)
        self._producer = producer
        self._wire = wire
        self._secrets = secrets or SecretProvider.from_settings(settings)
        self._options: dict[str, Any] = {}
        if buffer_size is not None:
            self._options["buffer_size"] = buffer_size
        if idle_s is not None:
            self._options["idle_s"] = idle_s
        self._subs: dict[QueueKey, Subscription] = {}
        self._subscribing = asyncio.Lock()
        self._handed: OrderedDict[str, HandedOut] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Presence records are fire and forget: their own producer, so the commands' producer
        # (whose sends are awaited) is not involved; polled in `_announce`.
        self._presence_producer = new_producer(settings, client_id="orchestrator-api-presence")
        self._presence = PresenceAnnouncer.for_producer(
            self._presence_producer, self.topics.presence
        )
        self._presence_topic_ready = False

    # -- polling ---------------------------------------------------------------------------

    async def poll(
        self,
        task_type: str,
        domain: str | None,
        worker_id: str | None,
        count: int,
        timeout_ms: int,
        actor: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``count`` tasks, waiting up to ``timeout_ms`` for the first one. ``actor``:
        who the hand-outs are recorded as (the authenticated principal, ``worker:<name>``)."""
        actor = actor or _actor(worker_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0, timeout_ms) / 1000
        key = (task_type, domain or None)
        while True:
            sub = await self._subscription(key)
            self._announce(key, worker_id)
            sub.poller_enters()
            try:
                tasks = await self._poll_until(sub, (worker_id, actor), count, deadline)
            finally:
                sub.poller_leaves()
            if tasks is not None:
                return tasks
            # None: the subscription closed under us (idle race); take a fresh one.

    async def _poll_until(
        self, sub: Subscription, poller: Poller, count: int, deadline: float
    ) -> list[dict[str, Any]] | None:
        loop = asyncio.get_running_loop()
        worker_id = poller[0]
        while True:
            sub.arrived.clear()
            taken = sub.take(count)
            if taken:
                tasks = await self._hand_out(sub, taken, poller)
                if tasks:
                    return tasks
                continue  # all set aside (duplicates, missing secrets): look again
            if sub.closed:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            # A long poll is a poller present all along: wake to re-announce it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.arrived.wait(), min(remaining, PRESENCE_INTERVAL_S))
            self._announce(sub.key, worker_id)

    def _announce(self, key: QueueKey, worker_id: str | None) -> None:
        self._presence.polled(key[0], key[1], worker_id or "unknown")
        self._presence_producer.poll(0)  # serve delivery reports; never blocks

    async def _subscription(self, key: QueueKey) -> Subscription:
        sub = self._subs.get(key)
        if sub is not None and not sub.closed:
            return sub
        async with self._subscribing:
            sub = self._subs.get(key)
            if sub is not None and not sub.closed:
                return sub
            spec = task_topic_spec(self.settings, *key)
            specs = (
                [spec] if self._presence_topic_ready else [spec, presence_topic_spec(self.settings)]
            )
            report = await asyncio.to_thread(ensure_topics, self.settings, specs, 15.0)
            if not report.ok:
                raise RuntimeError(f"cannot create task topic {spec.name}: {report.errors}")
            self._presence_topic_ready = True
            self._loop = asyncio.get_running_loop()
            sub = Subscription(
                self.settings,
                key,
                spec.name,
                self._loop,
                self._dead_letter,
                **self._options,
            )
            sub.start()
            self._subs[key] = sub
            log.info("task bridge: subscribed to %s for HTTP pollers", spec.name)
            return sub

    # -- hand-out --------------------------------------------------------------------------

    async def _hand_out(
        self, sub: Subscription, taken: list[Held], poller: Poller
    ) -> list[dict[str, Any]]:
        taken = await self._drop_ended(sub, taken)
        now = _now_ms()
        handed = await asyncio.gather(*(self._hand_out_one(sub, h, poller, now) for h in taken))
        return [task for task in handed if task is not None]

    async def _drop_ended(self, sub: Subscription, taken: list[Held]) -> list[Held]:
        """Set aside the tasks that ended while they waited in the queue (see the module doc)."""
        if self._ended is None or not taken:
            return taken
        try:
            ended = await self._ended([h.dispatch.task_id for h in taken])
        except Exception as exc:  # the read model is down: hand out, the engine guards
            log.warning("task bridge: cannot check task statuses (%s); handing out", exc)
            return taken
        for held in taken:
            if held.dispatch.task_id in ended:
                log.info("task bridge: task %s has ended: not handed out", held.dispatch.task_id)
                sub.finish(held)
        return [h for h in taken if h.dispatch.task_id not in ended]

    async def _hand_out_one(
        self, sub: Subscription, held: Held, poller: Poller, now: int
    ) -> dict[str, Any] | None:
        d: DispatchTask = held.dispatch
        worker_id, actor = poller
        seen = self._handed.get(d.task_id)
        if seen is not None and seen.poll_count >= d.poll_count:
            # The same dispatch again (a processor's resume re-dispatches): already with a worker.
            log.info("task bridge: task %s already handed out: duplicate dropped", d.task_id)
            sub.finish(held)
            return None
        # Claimed before the first await, so a copy in the same batch sees it.
        self._remember(d)
        try:
            resolved = resolve_task_secrets(d.input_data, self._secrets)
        except MissingSecrets as exc:  # the message names the secrets, never a value
            self._forget(d, seen)
            await self._set_aside(sub, held, str(exc), poller)
            return None
        ack = TaskStarted(
            workflow_id=d.workflow_instance_id,
            root_workflow_id=d.root_workflow_id,
            at=now,
            actor=actor,
            task_id=d.task_id,
            worker_id=worker_id,
        )
        if not await self._send(ack):
            self._forget(d, seen)
            sub.give_back(held)
            return None
        sub.finish(held)
        return task_json(d, resolved.value, worker_id, now)

    async def _set_aside(self, sub: Subscription, held: Held, reason: str, poller: Poller) -> None:
        """Fail a task that cannot be handed out (as the Kafka SDK does for missing secrets)."""
        d: DispatchTask = held.dispatch
        worker_id, actor = poller
        log.warning("task bridge: task %s cannot be handed out: %s", d.task_id, reason)
        failed = ReportTaskResult(
            workflow_id=d.workflow_instance_id,
            root_workflow_id=d.root_workflow_id,
            at=_now_ms(),
            actor=actor,
            task_id=d.task_id,
            status=TaskStatus.FAILED,
            reason=reason,
            worker_id=worker_id,
        )
        if await self._send(failed):
            sub.finish(held)
        else:
            sub.give_back(held)
        return None

    async def _send(self, command: Command) -> bool:
        value = self._wire.encode_command(command, command_id=str(uuid.uuid4()))
        try:
            await self._producer.send(self.topics.commands, command.root, value)
        except DeliveryFailed as exc:
            log.warning("task bridge: %s not delivered: %s", type(command).__name__, exc)
            return False
        return True

    def _remember(self, d: DispatchTask) -> None:
        self._handed[d.task_id] = HandedOut(d.root_workflow_id, d.task_type, d.domain, d.poll_count)
        self._handed.move_to_end(d.task_id)
        while len(self._handed) > _REMEMBERED:
            self._handed.popitem(last=False)

    def _forget(self, d: DispatchTask, previous: HandedOut | None) -> None:
        """Undo a claim whose hand-out failed."""
        if previous is None:
            self._handed.pop(d.task_id, None)
        else:
            self._handed[d.task_id] = previous

    def handed_out(self, task_id: str) -> HandedOut | None:
        """The root id and queue of a task this process handed out (None if not, or forgotten)."""
        return self._handed.get(task_id)

    # -- dead letters and shutdown ---------------------------------------------------------

    def _dead_letter(self, message: Any, reason: str) -> None:
        """Called on a consumer thread: a task record that cannot be handed out goes to the
        DLQ; waits (bounded) for its delivery before the offset moves on."""
        log.error("task bridge: task record %s set aside: %s", describe(message), reason)
        raw_key, value = dead_letter(message, reason, COMPONENT, wire=self._wire)
        key = (raw_key or b"").decode("utf-8", errors="replace")
        send = self._producer.send(self.topics.dlq, key, value)
        assert self._loop is not None  # set before any subscription starts
        future = asyncio.run_coroutine_threadsafe(send, self._loop)
        future.result(_DEAD_LETTER_WAIT_S)

    def subscribed(self) -> list[QueueKey]:
        return [key for key, sub in self._subs.items() if not sub.closed]

    async def close(self) -> None:
        """Stop every consumer: what was handed out is committed, the rest goes back."""
        subs = list(self._subs.values())
        self._subs.clear()
        for sub in subs:
            await asyncio.to_thread(sub.stop, 30.0)
        await asyncio.to_thread(self._presence_producer.flush, 2.0)


def _actor(worker_id: str | None) -> str:
    return f"worker:{worker_id or 'unknown'}"


def _now_ms() -> int:
    return int(time.time() * 1000)
