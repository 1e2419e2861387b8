"""The processor: a faust-streaming agent that runs the pure core over the commands topic.

A thin shell; each concern has its module:
- intake.py: our consumer of the commands topic; batches in, offsets committed after the outputs;
- step.py: one batch through the pure core (decide/evolve/react), no I/O;
- outputs.py: the batch's records, checked against Kafka's limits, produced;
- cache.py / retention.py / store.py: executions in memory, finished ones leaving after their
  retention for the state store, states too large for a record kept there;
- recovery.py / changelog.py: partitions gained, their executions read back and resumed;
- timers.py: the deadlines of the executions held, fired as commands.

Write order per batch (ADR 0003): events, dispatches, emitted commands, rejections and dead
letters are produced and their delivery awaited; then the touched states go to the state
changelog (delivery awaited too); then the batch is reported done and its offsets may be
committed. A crash at any point therefore leaves the log ahead of (or equal to) the changelog,
and a replayed command is either rejected as a duplicate or re-decided into identical events.

Nothing one command does stops the process (issue 15): an undecodable record or an engine error
becomes a dead letter; an outcome that cannot be written fails its workflow (step.py); a state
over ORCHESTRATOR_MAX_STATE_BYTES fails its workflow. What remains fatal is the infrastructure
failing for minutes (a broker gone past the producer's delivery timeout): the process then exits
uncommitted, and whoever takes its partitions over replays the batch.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import faust

from orchestrator.codec import CodecError, wire
from orchestrator.domain.commands import Command, FailWorkflow, StartWorkflow
from orchestrator.domain.context import Context
from orchestrator.engine import recovery
from orchestrator.engine.cache import Live, StateCache
from orchestrator.engine.changelog import ChangelogRead, read_changelog
from orchestrator.engine.faustboot import without_kafka_consumer
from orchestrator.engine.intake import Batch, CommandIntake, Record
from orchestrator.engine.outputs import Outputs, now_ms
from orchestrator.engine.registry import DefinitionRegistry, RegistryFollower
from orchestrator.engine.retention import Retention
from orchestrator.engine.statecodec import encode_state, stored_marker
from orchestrator.engine.step import BatchOutput, RetryBatch, process_batch
from orchestrator.engine.store import StateStore
from orchestrator.engine.timers import DueTimer, TimerHeap, TimerLoop
from orchestrator.flow.routing import DispatchRouter
from orchestrator.health.beacon import processor_beacon
from orchestrator.kafka.admin import admin_client
from orchestrator.kafka.aio import AsyncProducer, OutRecord, producer_config
from orchestrator.kafka.clients import service_membership
from orchestrator.kafka.security import kafka_access
from orchestrator.kafka.topics import TopicNames
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

EVICT_TICK_S = 1.0
DEFINITION_WAIT_S = 3.0
INITIAL_DEFINITIONS_WAIT_S = 30.0
MAX_COMPLETING = 2  # batches decided whose deliveries are still awaited
# States pickled for the changelog between two turns of the loop: ~80 µs each, so a commit with
# a few hundred touched states does not hold up the batches waiting behind it for 20+ ms.
PICKLES_PER_SLICE = 32
STORE_RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)  # then every 10 s, logged


@dataclass(slots=True)
class Stats:
    commands: int = 0
    events: int = 0
    rejections: int = 0
    timers_fired: int = 0
    failed_for_size: int = 0


class Processor:
    """Wires the faust app, the intake, the cache, the outputs and the timers together."""

    def __init__(self, settings: Settings, ctx_scripts: Any) -> None:
        self.settings = settings
        self.topics = TopicNames.from_settings(settings)
        self.registry = DefinitionRegistry()
        self.follower = RegistryFollower(
            settings, self.topics.definitions, self.registry, _decode_definition
        )
        self.ctx = Context(
            workflow_def=self.registry.workflow_def,
            task_def=self.registry.task_def,
            scripts=ctx_scripts,
            max_decision_events=settings.max_decision_events,
            # hard maximums of the outputs the core computes itself (INLINE, JQ, LAMBDA: ADR 0011)
            payload_limits=PayloadPolicy.from_settings(settings).domain_limits(),
        )
        self.cache = StateCache(settings.finished_retention_s * 1000)
        self.store = StateStore(settings.database_url, settings.state_store_schema)
        self.retention = Retention(self.cache, self.store, self.topics.state_changelog)
        self.timers = TimerHeap()
        self.timer_loop = TimerLoop(self.timers, self._fire_timers, now_ms)
        # Gate or task topic per dispatch, domains resolved; gate notices (ADR 0006).
        self.router = DispatchRouter(settings, self.topics, self.registry)
        self.outputs = Outputs(settings, self.topics, self.router, lambda: self.out)
        # Set once the registry has read the definitions topic to its end at startup: no
        # command is decided before, or it would miss the TaskDefs (retries, timeouts) it needs.
        self.definitions_loaded = asyncio.Event()
        self._out: AsyncProducer | None = None
        self._failing: set[str] = set()  # executions asked to fail for their state's size
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
            broker_credentials=kafka_access(s).security.faust_credentials(),
            store="memory://",
            datadir=str(datadir),
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            web_enabled=False,
        )
        app.boot_strategy = without_kafka_consumer(app)  # no group of faust's (faustboot.py)
        # The agent reads batches that the intake hands over (not a Kafka topic of faust's).
        self.channel = app.channel(maxsize=64)
        app.agent(self.channel, name="processor", concurrency=1)(self._agent)
        app.task(self._start)
        app.task(self.timer_loop.run)  # sleeps until the next deadline (engine/timers.py)
        app.timer(EVICT_TICK_S)(self._evict)
        app.timer(10.0)(self._log_stats)
        app.on_before_shutdown.connect(self._stop_intake)
        return app

    async def _start(self) -> None:
        """Definitions first, then the intake: no command is decided without them."""
        loop = asyncio.get_running_loop()
        self.store.open()
        await loop.run_in_executor(None, self.follower.start)
        self.definitions_loaded.set()
        log.info("definitions loaded")
        await loop.run_in_executor(None, self._learn_task_topics)
        self.intake = CommandIntake(
            self.settings,
            f"{self.topics.processor_app_id}-commands",
            self.topics.commands,
            loop,
            deliver=self.channel.put,
            on_assigned=self._on_assigned,
            on_revoked=self._on_revoked,
            before_commit=self._write_states,
            membership=service_membership(self.settings.instance_id),
            heartbeat=processor_beacon(self.settings, loop),
        )
        self.intake.stats = self._heartbeat_stats
        self.intake.start()

    def _learn_task_topics(self) -> None:
        """The task topics that exist already: their first dispatch then skips the admin call
        (~100 ms that would hold up the whole batch, timers' firings included)."""
        try:
            names = admin_client(self.settings).list_topics(timeout=10).topics
        except Exception:  # only an optimisation: the first dispatch checks anyway
            log.warning("could not list the task topics", exc_info=True)
            return
        known = (n for n in names if n.startswith(self.topics.tasks_prefix))
        self.outputs.known_task_topics.update(known)

    async def _stop_intake(self, app: Any, **_: Any) -> None:
        if self.intake is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.intake.stop)

    @property
    def out(self) -> AsyncProducer:
        """The producer of everything the processor writes, made on first use (on faust's loop)."""
        if self._out is None:
            self._out = AsyncProducer(producer_config(self.settings), asyncio.get_running_loop())
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
        entries: dict[str, Live],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Events delivered, then the states await their changelog write, then done, in order.

        Only once its events are delivered may a batch's states go to the changelog: the
        changelog must never get ahead of the log. And only once the previous batch is complete:
        a later batch's deliveries can finish first (the earlier one waits on a partition whose
        broker died), and an earlier batch's states put in after it would replace its newer ones
        for the same executions; the offsets of both then committed with the older states
        written, a takeover decided on states missing events of the log (issue #19)."""
        try:
            await asyncio.gather(*deliveries)
            if previous is not None:
                await previous
            self.cache.unwritten.update(entries)
            assert self.intake is not None
            self.intake.done(batch)
        except asyncio.CancelledError:
            raise
        except BaseException:
            _exit("processor batch could not be completed; exiting so the batch is replayed")

    async def _handle(self, batch: Batch, previous: asyncio.Task[None] | None) -> Any:
        """Decide a batch, update the in-memory states, start its deliveries; returns the
        coroutine that completes it."""
        await self._definitions_ready()
        commands: list[tuple[Command, str | None]] = []
        futures: list[Any] = []
        for record in batch:
            try:
                envelope = await self._decode(record)
            except CodecError as exc:
                futures.append(self.outputs.dead_letter(record, str(exc)))
                continue
            except Exception as exc:  # a decoder bug must not stop the partition either
                log.exception("cannot decode a command")
                reason = f"decoder error: {type(exc).__name__}: {exc}"
                futures.append(self.outputs.dead_letter(record, reason))
                continue
            commands.append((envelope.command, envelope.command_id))
        roots = {r.message.key: r for r in batch}
        if not commands:
            return self._complete(batch, futures, {}, previous)
        await self._await_definitions(commands)
        await self._load_archived(commands, roots)
        out = await self._decide(commands)
        futures.extend(await self.outputs.produce(out, roots, self.cache))
        entries = self._remember(out, roots)
        self._count(len(commands), out)
        return self._complete(batch, futures, entries, previous)

    async def _decode(self, record: Record) -> Any:
        """A command's envelope; a large payload it refers to that cannot be read now (the
        payload store down) is waited for: the command must not be lost (ADR 0011)."""
        for attempt in itertools.count():
            try:
                return wire.decode_command_envelope(record.message.value)
            except PayloadUnavailable as exc:
                await self._backoff(attempt, f"read a command's payload ({exc})")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _decide(self, commands: list[tuple[Command, str | None]]) -> BatchOutput:
        """process_batch, decided again whole while a large payload cannot be stored."""
        for attempt in itertools.count():
            try:
                return process_batch(self.cache.view(), commands, self.ctx, self.outputs.check)
            except RetryBatch as exc:
                self.outputs.encoded.clear()
                await self._backoff(attempt, f"store a payload ({exc})")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int, what: str) -> None:
        delay = STORE_RETRY_S[min(attempt, len(STORE_RETRY_S) - 1)]
        log.warning("payload store: cannot %s; retrying in %.1f s", what, delay)
        await asyncio.sleep(delay)

    async def _definitions_ready(self) -> None:
        if self.definitions_loaded.is_set():
            return
        try:
            await asyncio.wait_for(self.definitions_loaded.wait(), INITIAL_DEFINITIONS_WAIT_S)
        except TimeoutError:
            log.error("definitions not loaded after %.0f s; going on", INITIAL_DEFINITIONS_WAIT_S)
            self.definitions_loaded.set()

    async def _await_definitions(self, commands: Iterable[tuple[Command, str | None]]) -> None:
        """A start naming a definition not seen yet waits (bounded) for the registry."""
        missing = [
            c
            for c, _ in commands
            if isinstance(c, StartWorkflow)
            and c.definition is None
            and c.workflow_id not in self.cache
            and self.registry.workflow_def(c.name, c.version) is None
        ]
        if missing:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.follower.wait_caught_up, DEFINITION_WAIT_S)

    async def _load_archived(
        self, commands: list[tuple[Command, str | None]], roots: dict[bytes, Record]
    ) -> None:
        """Executions the batch names that are not in memory: finished ones left it for the
        state store after their retention (a start with an id used before must meet it too)."""
        missing = {c.workflow_id for c, _ in commands if c.workflow_id not in self.cache}
        if not missing:
            return
        found = await self._with_store(self.store.get_many, missing, what="look up executions")
        now = now_ms()
        for command, _ in commands:
            stored = found.pop(command.workflow_id, None)
            if stored is not None:
                partition = roots[command.root.encode()].message.partition
                self.cache.load_archived(
                    command.workflow_id, partition, stored.seq, stored.record, now
                )

    async def _with_store(self, call: Callable[..., T], *args: Any, what: str) -> T:
        """A state store call, retried until it works: a command must not be decided without
        the state it names (a decision on a missing state could contradict the log)."""
        loop = asyncio.get_running_loop()
        for attempt in range(10_000):
            try:
                return await loop.run_in_executor(None, call, *args)
            except Exception as exc:
                delay = STORE_RETRY_S[min(attempt, len(STORE_RETRY_S) - 1)]
                log.warning("state store: cannot %s (%s); retrying in %.1f s", what, exc, delay)
                await asyncio.sleep(delay)
        raise RuntimeError(f"state store: cannot {what}")  # pragma: no cover

    def _remember(self, out: BatchOutput, roots: dict[bytes, Record]) -> dict[str, Live]:
        """The batch's new states and timers, in memory: the next batch decides on them.
        Returns the batch's entries (for the changelog once its events are delivered)."""
        entries = {}
        for wid, state in out.states.items():
            partition = _source(roots, state.root_workflow_id or wid).message.partition
            entries[wid] = self.cache.remember(wid, partition, state)
            if state.is_terminal:
                self._failing.discard(wid)
        for timer in out.timers:
            entry = self.cache.get(timer.workflow_id)
            if entry is not None:
                self.timer_loop.push(timer, entry.partition)
        return entries

    async def _write_states(self) -> None:
        """Before every offset commit (every 0.5 s, and on revoke): the newest state of each
        execution touched since the last one goes to the changelog, awaited, so that "offset
        committed => state durable" holds. Once per commit rather than once per batch: an
        execution touched by ten batches in between is pickled and written once.

        A state too large for a Kafka record goes to the state store first and the changelog
        gets a marker for it; one over ORCHESTRATOR_MAX_STATE_BYTES also gets its workflow
        failed (a FailWorkflow command, decided like any other)."""
        unwritten, self.cache.unwritten = self.cache.unwritten, {}
        topic = self.topics.state_changelog
        records: list[OutRecord] = []
        large: list[tuple[str, Live, bytes]] = []
        for i, (wid, entry) in enumerate(unwritten.items(), 1):
            record = encode_state(entry.state)
            if len(record) > self.settings.max_record_bytes:
                large.append((wid, entry, record))
            else:
                records.append((topic, wid.encode(), record, entry.partition))
                self.cache.written(wid, entry, record)
            if i % PICKLES_PER_SLICE == 0:
                await asyncio.sleep(0)  # let batches be decided in between (latency)
        if large:
            rows = [(wid, e.partition, e.seq, r) for wid, e, r in large]
            await self._with_store(self.store.put_many, rows, what="keep large states")
            for wid, entry, record in large:
                records.append((topic, wid.encode(), stored_marker(record), entry.partition))
                self.cache.written(wid, entry, record)
                if len(record) > self.settings.max_state_bytes:
                    records.extend(self._fail_for_size(wid, entry, len(record)))
        await self.out.send_all(records)

    def _fail_for_size(self, wid: str, entry: Live, size: int) -> list[OutRecord]:
        state = entry.state
        if state.is_terminal or wid in self._failing:
            return []
        self._failing.add(wid)
        self.stats.failed_for_size += 1
        limit = self.settings.max_state_bytes
        reason = (
            f"the execution's state grew to {size / 1_048_576:.1f} MB, over the "
            f"{limit / 1_048_576:.1f} MB limit (ORCHESTRATOR_MAX_STATE_BYTES)"
        )
        log.warning("workflow %s: %s; failing it", wid, reason)
        command = FailWorkflow(
            workflow_id=wid,
            root_workflow_id=state.root_workflow_id,
            at=now_ms(),
            actor="engine",
            reason=reason,
        )
        key = command.root.encode()
        return [(self.topics.commands, key, wire.encode_command(command), entry.partition)]

    def _count(self, commands: int, out: BatchOutput) -> None:
        self.stats.commands += commands
        self.stats.events += len(out.events)
        self.stats.rejections += len(out.rejections)

    # -- timers, retention and recovery ------------------------------------------------------

    async def _fire_timers(self, due: list[DueTimer], now: int) -> None:
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

    async def _evict(self) -> None:
        await self.retention.evict(self.out, now_ms())

    async def _on_assigned(self, gained: set[int]) -> None:
        """Partitions gained: load their executions from the changelog, then resume them.

        Called by the intake before any record of these partitions is handed over. The
        changelog is read to the end it has now, which includes everything the previous owner
        committed (it awaits its changelog writes before it commits, ADR 0003).
        """
        started = time.monotonic()
        read = await self._read_changelog(gained)
        stored = recovery.stored_ids(read)
        found = await self._with_store(self.store.get_many, stored, what="read large states")
        recovered = recovery.load(self.cache, read, found)
        futures: list[Any] = []
        for partition, offset, key, reason in recovered.unreadable:
            log.error("changelog record %s@%s (%r) not recovered: %s", partition, offset, key,
                      reason)  # fmt: skip
        resumed = recovery.resume_all(recovered, lambda e, p: futures.append(self._resume(e, p)))
        for future in await asyncio.gather(*futures):
            await asyncio.gather(*future)
        log.info(
            "recovered partitions %s in %.2f s: %d records (%.1f MB) read, %d running and %d "
            "finished executions, %d effects resumed (holding %s)",
            sorted(gained),
            time.monotonic() - started,
            read.records,
            read.bytes / 1_048_576,
            len(recovered.running),
            recovered.finished,
            resumed,
            sorted(gained | self._held()),
        )

    async def _resume(self, effect: Any, partition: int) -> list[Any]:
        out = BatchOutput()
        out.add_effects([effect])
        for timer in out.timers:
            self.timer_loop.push(timer, partition)
        out.timers.clear()
        return await self.outputs.produce(out, {}, self.cache)

    async def _on_revoked(self, lost: set[int]) -> None:
        """Partitions lost (their batches are done and committed): forget their executions."""
        keep = self._held() - lost
        self.cache.keep_partitions(keep)
        self.timers.keep_partitions(keep)
        log.info("released partitions %s (holding %s)", sorted(lost), sorted(keep))

    def _held(self) -> set[int]:
        return set(self.intake.assigned) if self.intake is not None else set()

    async def _read_changelog(self, partitions: set[int]) -> ChangelogRead:
        """Our own read of the changelog (engine/changelog.py); no state, no decisions."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                None,
                read_changelog,
                self.settings,
                self.topics.state_changelog,
                partitions,
            )
        except Exception:
            # Deciding on a partial state could contradict the log; a restart retries cleanly.
            _exit("cannot read the state changelog; exiting")
            raise

    def _heartbeat_stats(self) -> dict[str, int]:
        """Executions held, for the heartbeat (/metrics: orchestrator_processor_executions)."""
        active, finished = self.cache.counts()
        return {
            "executionsActive": active,
            "executionsFinished": finished,
            "executionsEvicted": self.retention.evicted,
        }

    async def _log_stats(self) -> None:
        s = self.stats
        active, finished = self.cache.counts()
        log.info(
            "processor: %d commands, %d events, %d rejections, %d dead letters, %d timers fired, "
            "%d active and %d finished executions in memory, %d evicted, %d pending timers",
            s.commands,
            s.events,
            s.rejections,
            self.outputs.dead_letters,
            s.timers_fired,
            active,
            finished,
            self.retention.evicted,
            len(self.timers),
        )


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


def _decode_definition(data: bytes) -> tuple[str, Any]:
    record = wire.decode_definition(data)
    return record.kind, record.definition
