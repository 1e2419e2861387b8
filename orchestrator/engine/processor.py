"""The processor: a faust-streaming agent that runs the pure core over the commands topic.

The commands reach the agent through the intake (engine/intake.py): our own consumer of the
commands topic, which hands each poll to the agent as one batch through a faust channel and
commits a batch's offsets only after the agent reports it done.

Write order per batch (ADR 0003): events, dispatches, emitted commands, rejections and dead
letters are produced and their delivery awaited; then the touched states go to the state
changelog (delivery awaited too); then the batch is reported done and its offsets may be
committed. A crash at any point therefore leaves the log ahead of (or equal to) the changelog,
and a replayed command is either rejected as a duplicate or re-decided into identical events.

Errors of one command (undecodable, engine bug) become dead letters; anything else exits the
process hard, uncommitted, so the batch is replayed by whoever takes the partition over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from orchestrator.codec import CodecError, wire
from orchestrator.codec.wire_infra import DeadLetter
from orchestrator.domain.commands import Command, StartWorkflow
from orchestrator.domain.context import Context
from orchestrator.domain.react import resume
from orchestrator.domain.state import WorkflowState
from orchestrator.engine.changelog import read_changelog
from orchestrator.engine.intake import Batch, CommandIntake, Record
from orchestrator.engine.registry import DefinitionRegistry, RegistryFollower
from orchestrator.engine.statecodec import (
    CacheEntry,
    PackedEntry,
    TableEntry,
    encode_entry,
    entry_seq,
    packed,
    register_state_codec,
)
from orchestrator.engine.step import BatchOutput, process_batch
from orchestrator.engine.timers import TimerHeap
from orchestrator.flow.routing import DispatchRouter
from orchestrator.kafka.admin import admin_client, ensure_topics
from orchestrator.kafka.aio import AsyncProducer, OutRecord, producer_config
from orchestrator.kafka.topics import TopicNames, task_topic_spec
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

TIMER_TICK_S = 0.02
DEFINITION_WAIT_S = 3.0
INITIAL_DEFINITIONS_WAIT_S = 30.0
MAX_COMPLETING = 2  # batches decided whose deliveries are still awaited
# States pickled for the changelog between two turns of the loop: ~80 µs each, so a commit with
# a few hundred touched states does not hold up the batches waiting behind it for 20+ ms.
PICKLES_PER_SLICE = 32


@dataclass(slots=True)
class Stats:
    commands: int = 0
    events: int = 0
    rejections: int = 0
    dead_letters: int = 0
    timers_fired: int = 0


class Processor:
    """Holds the faust app, the state cache, the timer heap and the definition registry."""

    def __init__(self, settings: Settings, ctx_scripts: Any) -> None:
        register_state_codec()
        self.settings = settings
        self.topics = TopicNames.from_settings(settings)
        self.registry = DefinitionRegistry()
        self.follower = RegistryFollower(
            settings.kafka_bootstrap, self.topics.definitions, self.registry, _decode_definition
        )
        self.ctx = Context(
            workflow_def=self.registry.workflow_def,
            task_def=self.registry.task_def,
            scripts=ctx_scripts,
        )
        # The assigned partitions' executions; finished ones as their changelog record.
        self.states: dict[str, CacheEntry] = {}
        # States whose events are delivered, not yet in the changelog (see _write_states).
        self._unwritten: dict[str, TableEntry] = {}
        self.timers = TimerHeap()
        self.known_task_topics: set[str] = set()
        # Gate or task topic per dispatch, domains resolved; gate notices (ADR 0006).
        self.router = DispatchRouter(settings, self.topics, self.registry)
        # Set once the registry has read the definitions topic to its end at startup: no
        # command is decided before, or it would miss the TaskDefs (retries, timeouts) it needs.
        self.definitions_loaded = asyncio.Event()
        self._out: AsyncProducer | None = None
        self.intake: CommandIntake | None = None
        self.stats = Stats()
        self.app = self._build_app()

    # -- wiring -----------------------------------------------------------------------------

    def _build_app(self) -> faust.App:
        s = self.settings
        datadir = Path(s.state_dir).resolve() / "processor"
        datadir.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            self.topics.processor_app_id,
            broker=f"kafka://{s.kafka_bootstrap}",
            store="memory://",
            datadir=str(datadir),
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            web_enabled=False,
        )
        # The agent reads batches that the intake hands over (not a Kafka topic of faust's).
        self.channel = app.channel(maxsize=64)
        app.agent(self.channel, name="processor", concurrency=1)(self._agent)
        app.task(self._start)
        app.timer(TIMER_TICK_S)(self._fire_timers)
        app.timer(10.0)(self._log_stats)
        app.on_before_shutdown.connect(self._stop_intake)
        return app

    async def _start(self) -> None:
        """Definitions first, then the intake: no command is decided without them."""
        await self._start_follower()
        await asyncio.get_running_loop().run_in_executor(None, self._learn_task_topics)
        self.intake = CommandIntake(
            self.settings.kafka_bootstrap,
            f"{self.topics.processor_app_id}-commands",
            self.topics.commands,
            asyncio.get_running_loop(),
            deliver=self.channel.put,
            on_assigned=self._on_assigned,
            on_revoked=self._on_revoked,
            before_commit=self._write_states,
        )
        self.intake.start()

    def _learn_task_topics(self) -> None:
        """The task topics that exist already: their first dispatch then skips the admin call
        (~100 ms that would hold up the whole batch, timers' firings included)."""
        try:
            names = admin_client(self.settings.kafka_bootstrap).list_topics(timeout=10).topics
        except Exception:  # only an optimisation: the first dispatch checks anyway
            log.warning("could not list the task topics", exc_info=True)
            return
        self.known_task_topics.update(n for n in names if n.startswith(self.topics.tasks_prefix))

    async def _stop_intake(self, app: Any, **_: Any) -> None:
        if self.intake is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.intake.stop)

    async def _start_follower(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.follower.start)
        self.definitions_loaded.set()
        log.info("definitions loaded")

    @property
    def out(self) -> AsyncProducer:
        """The producer of everything but the changelog, made on first use (on faust's loop)."""
        if self._out is None:
            self._out = AsyncProducer(
                producer_config(self.settings.kafka_bootstrap), asyncio.get_running_loop()
            )
        return self._out

    # -- the agent ----------------------------------------------------------------------------

    async def _agent(self, stream: faust.StreamT) -> None:
        """Decide each batch at once; its deliveries complete in the background (pipelined).

        A batch's decisions need only the in-memory states, which the previous batch updated
        when it was decided; what must wait for deliveries is the batch's changelog write and
        its "done" (the offset commit), and `_complete` keeps both in order (ADR 0003).
        """
        completing: deque[asyncio.Task[None]] = deque()
        async for batch in stream:
            try:
                previous = completing[-1] if completing else None
                completing.append(asyncio.ensure_future(await self._handle(batch, previous)))
                while completing and (len(completing) > MAX_COMPLETING or completing[0].done()):
                    await completing.popleft()
            except asyncio.CancelledError:
                raise  # shutting down: what is not done is not committed, and is replayed
            except BaseException:
                _exit("processor batch failed; exiting so the batch is replayed")

    async def _complete(
        self,
        batch: Batch,
        deliveries: list[Any],
        entries: dict[str, TableEntry],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Events delivered, then the states await their changelog write, then done, in order.

        Only once its events are delivered may a batch's states go to the changelog: the
        changelog must never get ahead of the log."""
        try:
            await asyncio.gather(*deliveries)
            self._unwritten.update(entries)
            if previous is not None:
                await previous
            assert self.intake is not None
            self.intake.done(batch)
        except asyncio.CancelledError:
            raise
        except BaseException:
            _exit("processor batch could not be completed; exiting so the batch is replayed")

    async def _handle(self, batch: Batch, previous: asyncio.Task[None] | None) -> Any:
        """Decide a batch, update the in-memory states, start its deliveries; returns the
        coroutine that completes it."""
        if not self.definitions_loaded.is_set():
            try:
                await asyncio.wait_for(self.definitions_loaded.wait(), INITIAL_DEFINITIONS_WAIT_S)
            except TimeoutError:
                log.error(
                    "definitions not loaded after %.0f s; going on", INITIAL_DEFINITIONS_WAIT_S
                )
                self.definitions_loaded.set()
        commands: list[tuple[Command, str | None]] = []
        futures: list[Any] = []
        for event in batch:
            try:
                envelope = wire.decode_command_envelope(event.message.value)
            except CodecError as exc:
                futures.append(self._dead_letter(event, str(exc)))
                continue
            commands.append((envelope.command, envelope.command_id))
        roots = {e.message.key: e for e in batch}
        if not commands:
            return self._complete(batch, futures, {}, previous)
        log.debug("batch of %d commands", len(commands))
        await self._await_definitions(commands)
        out = process_batch(_StateView(self.states), commands, self.ctx)
        futures.extend(await self._produce(out, roots))
        entries = self._remember(out, roots)
        self._count(len(commands), out)
        return self._complete(batch, futures, entries, previous)

    async def _await_definitions(self, commands: Iterable[tuple[Command, str | None]]) -> None:
        """A start naming a definition not seen yet waits (bounded) for the registry."""
        missing = [
            c
            for c, _ in commands
            if isinstance(c, StartWorkflow)
            and c.definition is None
            and c.workflow_id not in self.states
            and self.registry.workflow_def(c.name, c.version) is None
        ]
        if missing:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.follower.wait_caught_up, DEFINITION_WAIT_S)

    async def _produce(self, out: BatchOutput, roots: dict[bytes, Record]) -> list[Any]:
        """Produce a batch's outputs; `roots` maps a command key (root id) to its source event.
        Returns the futures of their deliveries (one for all but the dead letters)."""
        await self._ensure_task_topics(out.dispatches)
        records: list[OutRecord] = []
        add = records.append
        events_topic = self.topics.events
        for event, command_id in out.events:
            key = (event.root_workflow_id or event.workflow_id).encode()
            value = wire.encode_event(event, correlation_id=command_id)
            add((events_topic, key, value, _partition(roots, key)))
        for dispatch in out.dispatches:
            add((*self.router.route(dispatch), None))
        for notice in self.router.notices(out.events, out.states, self.states):
            add((*notice, None))
        for command in out.commands:
            key = command.root.encode()
            add((self.topics.commands, key, wire.encode_command(command), _partition(roots, key)))
        for command, rejection, command_id in out.rejections:
            record = wire.encode_rejection(
                command,
                rejection.code,
                rejection.reason,
                rejected_at=_now_ms(),
                command_id=command_id,
            )
            add((self.topics.rejections, command.root.encode(), record, None))
        futures: list[Any] = [self.out.send_all(records)]
        for failure in out.failures:
            event = roots.get(failure.command.root.encode())
            if event is not None:
                futures.append(self._dead_letter(event, failure.reason))
        return futures

    async def _ensure_task_topics(self, dispatches: Iterable[Any]) -> None:
        """Create missing task topics first: a send to an absent topic would block."""
        wanted = await self.router.prepare(dispatches)
        missing = [w for w in wanted if self.topics.task(*w) not in self.known_task_topics]
        if not missing:
            return
        specs = [task_topic_spec(self.settings, t, d) for t, d in missing]
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(
            None, ensure_topics, self.settings.kafka_bootstrap, specs, 15.0
        )
        if not report.ok:
            raise RuntimeError(f"cannot create task topics: {report.errors}")
        self.known_task_topics.update(spec.name for spec in specs)

    def _dead_letter(self, event: Record, reason: str) -> Any:
        msg = event.message
        log.warning("dead letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
        self.stats.dead_letters += 1
        record = wire.encode_dead_letter(
            DeadLetter(
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                key=msg.key,
                value=msg.value,
                reason=reason,
                failed_at=_now_ms(),
                component="processor",
            )
        )
        return self.out.send(self.topics.dlq, msg.key, record)

    def _remember(self, out: BatchOutput, roots: dict[bytes, Record]) -> dict[str, TableEntry]:
        """The batch's new states and timers, in memory: the next batch decides on them.
        Returns the batch's entries (for the changelog once its events are delivered)."""
        entries = {}
        for wid, state in out.states.items():
            partition = _source(roots, state.root_workflow_id or wid).message.partition
            entries[wid] = self.states[wid] = TableEntry(partition=partition, state=state)
        for timer in out.timers:
            entry = self.states.get(timer.workflow_id)
            if entry is not None:
                self.timers.push(timer, entry.partition)
        return entries

    async def _write_states(self) -> None:
        """Before every offset commit (every 0.5 s, and on revoke): the newest state of each
        execution touched since the last one goes to the changelog, awaited, so that "offset
        committed => state durable" holds. Once per commit rather than once per batch: an
        execution touched by ten batches in between is pickled and written once.
        A finished execution stays cached as that record (`PackedEntry`)."""
        unwritten, self._unwritten = self._unwritten, {}
        topic = self.topics.state_changelog
        records: list[OutRecord] = []
        for wid, entry in unwritten.items():
            records.append((topic, wid.encode(), _encode_and_pack(self.states, wid, entry),
                            entry.partition))  # fmt: skip
            if len(records) % PICKLES_PER_SLICE == 0:
                await asyncio.sleep(0)  # let batches be decided in between (latency)
        await self.out.send_all(records)

    def _count(self, commands: int, out: BatchOutput) -> None:
        self.stats.commands += commands
        self.stats.events += len(out.events)
        self.stats.rejections += len(out.rejections)

    # -- timers and recovery ----------------------------------------------------------------

    async def _fire_timers(self) -> None:
        now = _now_ms()
        due = self.timers.pop_due(now)
        if not due:
            return
        futures = []
        for item in due:
            command = item.command(now)
            futures.append(
                self.out.send(
                    self.topics.commands,
                    command.root.encode(),
                    wire.encode_command(command),
                    item.partition,
                )
            )
        await asyncio.gather(*futures)
        self.stats.timers_fired += len(due)

    async def _on_assigned(self, gained: set[int]) -> None:
        """Partitions gained: load their executions from the changelog, then resume them.

        Called by the intake before any record of these partitions is handed over. The
        changelog is read to the end it has now, which includes everything the previous owner
        committed (it awaits its changelog writes before it commits, ADR 0003).
        """
        blobs: dict[str, bytes] = {}
        read = await self._read_changelog(gained, blobs)
        kept = [(wid, packed(entry, blobs.pop(wid))) for wid, entry in read.items()]
        self.states = _merge_newest(kept, self.states, gained | self._held())
        futures = []
        redispatched = 0
        for entry in read.values():
            for effect in resume(entry.state):
                futures.extend(await self._resume_effect(effect, entry.partition))
                redispatched += 1
        await asyncio.gather(*futures)
        log.info(
            "recovered %d executions on partitions %s (holding %s); %d effects resumed",
            len(read),
            sorted(gained),
            sorted(gained | self._held()),
            redispatched,
        )

    async def _on_revoked(self, lost: set[int]) -> None:
        """Partitions lost (their batches are done and committed): forget their executions."""
        keep = self._held() - lost
        self.states = {wid: e for wid, e in self.states.items() if e.partition in keep}
        self._unwritten = {w: e for w, e in self._unwritten.items() if e.partition in keep}
        self.timers.keep_partitions(keep)
        log.info("released partitions %s (holding %s)", sorted(lost), sorted(keep))

    def _held(self) -> set[int]:
        return set(self.intake.assigned) if self.intake is not None else set()

    async def _read_changelog(
        self, partitions: set[int], blobs: dict[str, bytes]
    ) -> dict[str, TableEntry]:
        """Our own read of the changelog (engine/changelog.py); no state, no decisions."""
        loop = asyncio.get_running_loop()
        try:
            read = functools.partial(read_changelog, blobs=blobs)
            return await loop.run_in_executor(
                None, read, self.settings.kafka_bootstrap, self.topics.state_changelog, partitions
            )
        except Exception:
            # Deciding on a partial state could contradict the log; a restart retries cleanly.
            _exit("cannot read the state changelog; exiting")
            raise

    async def _resume_effect(self, effect: Any, partition: int) -> list[Any]:
        out = BatchOutput()
        out.add_effects([effect])
        for timer in out.timers:
            self.timers.push(timer, partition)
        out.timers.clear()
        return await self._produce(out, {})

    async def _log_stats(self) -> None:
        s = self.stats
        log.info(
            "processor: %d commands, %d events, %d rejections, %d dead letters, %d timers fired, "
            "%d executions, %d pending timers",
            s.commands,
            s.events,
            s.rejections,
            s.dead_letters,
            s.timers_fired,
            len(self.states),
            len(self.timers),
        )


class _StateView:
    """Read-only mapping view of the cache's states, without copying the cache each batch."""

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[str, CacheEntry]) -> None:
        self._entries = entries

    def get(self, key: str, default: WorkflowState | None = None) -> WorkflowState | None:
        entry = self._entries.get(key)
        return entry.state if entry is not None else default

    def __getitem__(self, key: str) -> WorkflowState:
        return self._entries[key].state

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Any:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _newest_by_id(items: Iterable[tuple[Any, Any]], assigned: set[int]) -> dict[str, CacheEntry]:
    """Entries of the assigned partitions, the one with the highest seq per workflow id."""
    newest: dict[str, CacheEntry] = {}
    for key, entry in items:
        if isinstance(entry, TableEntry | PackedEntry) and entry.partition in assigned:
            wid = key.decode() if isinstance(key, bytes) else key
            held = newest.get(wid)
            if held is None or entry_seq(entry) >= entry_seq(held):
                newest[wid] = entry
    return newest


def _merge_newest(
    table_items: Iterable[tuple[Any, Any]], cache: dict[str, CacheEntry], assigned: set[int]
) -> dict[str, CacheEntry]:
    """Entries of the assigned partitions, from the table and the cache, the newest per id."""
    return _newest_by_id([*table_items, *cache.items()], assigned)


def _encode_and_pack(states: dict[str, CacheEntry], wid: str, entry: TableEntry) -> bytes:
    """`entry`'s changelog record; if its execution is finished and `entry` is still the cached
    one (no batch decided since has replaced it), the cache keeps the record instead."""
    blob = encode_entry(entry)
    if states.get(wid) is entry:
        states[wid] = packed(entry, blob)
    return blob


def _source(roots: dict[bytes, Record], root_id: str) -> Record:
    record = roots.get(root_id.encode())
    if record is None:  # pragma: no cover - every touched state came from a command
        raise RuntimeError(f"no source command for workflow tree {root_id}")
    return record


def _exit(message: str) -> None:
    """Exit hard, uncommitted: whoever takes the partitions over replays the batch."""
    log.critical(message, exc_info=True)
    logging.shutdown()
    os._exit(70)


def _partition(roots: dict[bytes, Record], key: bytes) -> int | None:
    """The commands partition of a workflow tree in this batch (None: let the partitioner pick)."""
    event = roots.get(key)
    return event.message.partition if event is not None else None


def _decode_definition(data: bytes) -> tuple[str, Any]:
    record = wire.decode_definition(data)
    return record.kind, record.definition


def _now_ms() -> int:
    return int(time.time() * 1000)
