"""The task gate's state for one task definition: pure, no I/O, no clock (time is an argument).

The gate (gate.py) folds the records of its gate-topic partition into one ``TypeGate`` per task
definition name and asks each, on every tick, which held tasks may go out now. The same inputs
drive the live gate and its rebuild after a crash or a rebalance, so folding the log again gives
the state the dead gate had (ADR 0006):

- ``dispatch``: a task to hand out (from the processor), with its priority and arrival offset;
- ``released``: the gate's own record that it put a task in its task topic at a time (written
  after the task reached the topic);
- ``started`` / ``ended``: notices from the processor when it folded TaskPickedUp / a terminal
  task event of a gated task. Each carries the time a worker took the task (the hand-out),
  when the engine knows it: the acknowledgement's time, or a fast task's ``started_at``.

Release rule: best (priority desc, arrival asc) first, while (a) fewer than ``rate`` slots of
the rate are in use: a hand-out counts for ``window_ms`` (+ ``slack_ms``) from the time the
worker took the task, and a released task counts from its release until its hand-out is known
(it may be taken at any moment: it waits in the task topic, a bridge's buffer or a worker's
queue), so in every sliding window at most ``rate`` tasks reach the workers; (b) fewer than
``concurrency`` tasks are out (from release to end: the worker may be running them); (c) fewer
than ``prefetch`` released tasks are still waiting for a worker to start them (so a backlog
waits here, in priority order, not in the FIFO task topic). A released task not started within
``ack_grace_ms`` stops counting for (c) only: workers that never acknowledge do not stall a
type without a rate limit.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

ENDED_TTL_MS = 10 * 60 * 1000  # how long an ended task's id is remembered (late duplicates)
ENDED_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """A task definition's flow limits; 0 means none."""

    rate: int = 0  # releases per window
    window_ms: int = 1000
    concurrency: int = 0  # tasks out at once

    @classmethod
    def of(
        cls, per_frequency: int | None, frequency_s: int | None, concurrent: int | None
    ) -> Limits:
        rate = max(0, per_frequency or 0)
        window_ms = max(1, frequency_s or 1) * 1000
        return cls(rate=rate, window_ms=window_ms, concurrency=max(0, concurrent or 0))

    @property
    def limited(self) -> bool:
        return self.rate > 0 or self.concurrency > 0


@dataclass(frozen=True, slots=True)
class Held:
    """A task waiting in the gate; ``payload`` is opaque here (the gate's decoded dispatch)."""

    task_id: str
    priority: int
    arrival: int  # its dispatch record's offset: FIFO among equal priorities
    payload: Any = None

    @property
    def order(self) -> tuple[int, int]:
        return (-self.priority, self.arrival)


@dataclass(slots=True)
class Out:
    """A released task that has not ended."""

    released_at: int
    started: bool
    since: int  # offset of the dispatch that began this task's life in the gate


@dataclass(slots=True)
class TypeGate:
    pending: dict[str, Held] = field(default_factory=dict)
    out: dict[str, Out] = field(default_factory=dict)
    # (task id, hand-out time) -> offset of the notice that told it: the rate's window
    window: dict[tuple[str, int], int] = field(default_factory=dict)
    # released, hand-out not known yet (task id -> release time): each holds a slot of the rate
    awaiting: dict[str, int] = field(default_factory=dict)
    # released, not started, in release order (task id -> release time): the prefetch
    unstarted: OrderedDict[str, int] = field(default_factory=OrderedDict)
    ended: OrderedDict[str, int] = field(default_factory=OrderedDict)
    early_starts: set[str] = field(default_factory=set)  # started notices ahead of Released
    _heap: list[tuple[int, int, str]] = field(default_factory=list)
    _window_heap: list[tuple[int, str]] = field(default_factory=list)  # (hand-out time, task)
    _since: dict[str, int] = field(default_factory=dict)  # pending task -> life start offset
    _cutoff: int = -(2**62)  # hand-outs at or before this time are out of the window
    _own: set[tuple[str, int]] = field(default_factory=set)  # decided here, not yet read back

    # -- folding inputs -----------------------------------------------------------------------

    def dispatch(self, held: Held) -> None:
        """A dispatch record. Duplicates (processor replay, resume) change nothing; a dispatch
        of a task that is out AND started is a re-queue (a callback delay ended): it waits again."""
        tid = held.task_id
        if tid in self.ended or tid in self.pending:
            return
        since = held.arrival
        current = self.out.get(tid)
        if current is not None:
            if not current.started:
                return  # the released copy has not been taken yet: a duplicate
            since = current.since
            self._drop_out(tid)
        self.pending[tid] = held
        self._since[tid] = since
        heapq.heappush(self._heap, (*held.order, tid))

    def released(self, task_id: str, at: int, offset: int | None = None) -> None:
        """A Released record: read back after a live decision (already applied), or written by
        an earlier owner of the partition (folded on rebuild: the task is out)."""
        key = (task_id, at)
        if key in self._own:
            self._own.discard(key)
        elif task_id in self.pending:
            self._take_out(task_id, at)

    def started(self, task_id: str, at: int, offset: int = 0) -> None:
        """A worker took the task at ``at``: it counts in the rate's window from then."""
        self._handed_out(task_id, at, offset)
        current = self.out.get(task_id)
        if current is not None:
            current.started = True
            self.unstarted.pop(task_id, None)
        elif task_id in self.pending:
            self.early_starts.add(task_id)

    def ended_notice(
        self, task_id: str, at: int, start: int | None = None, offset: int = 0
    ) -> None:
        """The task is terminal: a held one is dropped (never handed out), an out one frees its
        slot. ``start``: when a worker took it, if no acknowledgement told it (a fast task)."""
        if start is not None:
            self._handed_out(task_id, start, offset)
        if self.pending.pop(task_id, None) is not None:
            self._since.pop(task_id, None)  # its heap entry is skipped lazily
        self._drop_out(task_id)
        self.early_starts.discard(task_id)
        self.ended[task_id] = at
        self.ended.move_to_end(task_id)

    # -- deciding -----------------------------------------------------------------------------

    def due(
        self, now: int, limits: Limits, prefetch: int, ack_grace_ms: int, slack_ms: int = 0
    ) -> list[Held]:
        """Take out every held task that may go now, best first; the caller must hand each out
        and then record it (its Released record), or crash so that a rebuild holds it again.
        ``slack_ms`` keeps each hand-out in the window that much longer (the time between a
        hand-out's stamp and the worker's receipt of it)."""
        self._prune(now, limits.window_ms + max(0, slack_ms), ack_grace_ms)
        if limits.rate:  # never more than one window's worth ahead of the workers
            prefetch = min(prefetch, limits.rate) if prefetch else limits.rate
        released: list[Held] = []
        while self._heap:
            if limits.concurrency and len(self.out) >= limits.concurrency:
                break
            if limits.rate and self.rate_in_use >= limits.rate:
                break
            if prefetch and len(self.unstarted) >= prefetch:
                break
            *order, tid = heapq.heappop(self._heap)
            held = self.pending.get(tid)
            if held is None or held.order != tuple(order):
                continue  # a stale entry: ended while held, or released and dispatched again
            self._take_out(tid, now)
            self._own.add((tid, now))
            released.append(held)
        return released

    def commit_floor(self) -> int | None:
        """The lowest gate-topic offset a rebuild must read from (None: nothing needed)."""
        offsets = [*self._since.values(), *(o.since for o in self.out.values())]
        offsets.extend(self.window.values())
        return min(offsets) if offsets else None

    @property
    def held(self) -> int:
        return len(self.pending)

    @property
    def rate_in_use(self) -> int:
        """Slots of the rate taken: hand-outs in the window plus released tasks not yet taken."""
        return len(self.window) + len(self.awaiting)

    # -- internals ----------------------------------------------------------------------------

    def _handed_out(self, tid: str, at: int, offset: int) -> None:
        self.awaiting.pop(tid, None)
        key = (tid, at)
        if at > self._cutoff and key not in self.window:
            self.window[key] = offset
            heapq.heappush(self._window_heap, (at, tid))

    def _take_out(self, tid: str, at: int) -> None:
        held = self.pending.pop(tid)
        since = self._since.pop(tid, held.arrival)
        started = tid in self.early_starts
        self.early_starts.discard(tid)
        self.out[tid] = Out(released_at=at, started=started, since=since)
        if not started:
            self.unstarted[tid] = at
            self.awaiting[tid] = at

    def _drop_out(self, tid: str) -> None:
        self.out.pop(tid, None)
        self.unstarted.pop(tid, None)
        self.awaiting.pop(tid, None)

    def _prune(self, now: int, window_ms: int, ack_grace_ms: int) -> None:
        self._cutoff = max(self._cutoff, now - window_ms)
        while self._window_heap and self._window_heap[0][0] <= self._cutoff:
            at, tid = heapq.heappop(self._window_heap)
            self.window.pop((tid, at), None)
        while self.unstarted and next(iter(self.unstarted.values())) <= now - ack_grace_ms:
            self.unstarted.popitem(last=False)
        while self.ended and (
            len(self.ended) > ENDED_MAX or next(iter(self.ended.values())) <= now - ENDED_TTL_MS
        ):
            self.ended.popitem(last=False)
        if len(self._heap) > 2 * len(self.pending) + 64:  # many stale entries: rebuild the heap
            self._heap = [(*h.order, h.task_id) for h in self.pending.values()]
            heapq.heapify(self._heap)


@dataclass(slots=True)
class PartitionGate:
    """Every TypeGate of one gate-topic partition, and how far the partition has been read."""

    types: dict[str, TypeGate] = field(default_factory=dict)
    position: int = 0  # next offset to read

    def gate(self, name: str) -> TypeGate:
        found = self.types.get(name)
        if found is None:
            found = self.types[name] = TypeGate()
        return found

    def commit_point(self) -> int:
        """Where a new owner must start folding: nothing before it is still needed."""
        floors = [f for g in self.types.values() if (f := g.commit_floor()) is not None]
        return min([*floors, self.position])
