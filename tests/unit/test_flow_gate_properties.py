"""Properties of the task gate's state under random interleavings of dispatches, hand-outs (a
worker takes a released task at any later time), late notices, ends, duplicates, re-queues and
time: the limits always hold (the rate where workers take the tasks), priority orders every
release, nothing is lost, and folding the gate's log again gives the live state (what a
rebuild relies on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.flow.gate_state import Held, Limits, TypeGate

GRACE = 3_000

limits_st = st.builds(
    Limits,
    rate=st.integers(0, 4),
    window_ms=st.sampled_from([500, 1000, 2000]),
    concurrency=st.integers(0, 3),
)
op_st = st.one_of(
    st.tuples(st.just("dispatch"), st.integers(0, 99)),
    st.tuples(st.just("duplicate"), st.integers(0, 1000)),
    st.tuples(st.just("tick"), st.integers(0, 1500)),
    st.tuples(st.just("tick"), st.just(GRACE + 1)),  # past the grace: prefetch forgets
    st.tuples(st.just("take"), st.integers(0, 1000)),
    st.tuples(st.just("start"), st.integers(0, 1000)),
    st.tuples(st.just("end"), st.integers(0, 1000)),
)


@dataclass
class Run:
    """A live gate driven like gate.py drives it, and the log it would leave behind."""

    limits: Limits
    prefetch: int
    gate: TypeGate = field(default_factory=TypeGate)
    log: list[tuple[str, Any]] = field(default_factory=list)
    now: int = 0
    next_id: int = 0
    releases: list[tuple[int, str]] = field(default_factory=list)
    dispatched: dict[str, Held] = field(default_factory=dict)
    ended_held: set[str] = field(default_factory=set)
    requeued: set[str] = field(default_factory=set)
    taken: dict[str, int] = field(default_factory=dict)  # out, taken by a worker at
    handouts: list[int] = field(default_factory=list)  # when workers took tasks

    def offset(self) -> int:
        return len(self.log)

    def dispatch(self, priority: int) -> None:
        task = Held(f"t{self.next_id}", priority, self.offset())
        self.next_id += 1
        self.dispatched[task.task_id] = task
        self._fold_dispatch(task)

    def duplicate(self, pick: int) -> None:
        if self.dispatched:
            old = list(self.dispatched.values())[pick % len(self.dispatched)]
            out = self.gate.out.get(old.task_id)
            if out is not None and out.started:
                self.requeued.add(old.task_id)
                self.taken.pop(old.task_id, None)
            self._fold_dispatch(Held(old.task_id, old.priority, self.offset()))

    def _fold_dispatch(self, task: Held) -> None:
        self.log.append(("dispatch", task))
        self.gate.dispatch(task)

    def tick(self, advance: int) -> list[Held]:
        self.now += advance
        before = sorted(h.order for h in self.gate.pending.values())
        released = self.gate.due(self.now, self.limits, self.prefetch, GRACE)
        check_priority(released, before, self.gate)
        for task in released:  # the gate writes a Released record per task, then reads it back
            self.releases.append((self.now, task.task_id))
            self.log.append(("released", (task.task_id, self.now)))
            self.gate.released(task.task_id, self.now, self.offset() - 1)
        check_limits(self)
        return released

    def take(self, pick: int) -> None:
        """A worker takes a released task now; the engine tells the gate later (or never)."""
        waiting = sorted(t for t in self.gate.out if t not in self.taken)
        if waiting:
            task_id = waiting[pick % len(waiting)]
            self.taken[task_id] = self.now
            self.handouts.append(self.now)
            check_limits(self)

    def start(self, pick: int) -> None:
        """The acknowledgement of a taken task reaches the gate (a started notice)."""
        told = sorted(t for t in self.taken if t in self.gate.out and not self.gate.out[t].started)
        if told:
            task_id = told[pick % len(told)]
            self.log.append(("started", (task_id, self.taken[task_id])))
            self.gate.started(task_id, self.taken[task_id], self.offset() - 1)

    def end(self, pick: int) -> None:
        candidates = sorted({*self.gate.out, *self.gate.pending})
        if candidates:
            task_id = candidates[pick % len(candidates)]
            if task_id in self.gate.pending and task_id not in self.gate.out:
                self.ended_held.add(task_id)
            out = self.gate.out.get(task_id)
            # A task taken but never acknowledged reports when it was taken (started_at).
            start = self.taken.get(task_id) if out is not None and not out.started else None
            if out is not None and task_id not in self.taken:
                start = None  # ended in the topic, never handed out (e.g. canceled)
            self.log.append(("ended", (task_id, self.now, start)))
            self.gate.ended_notice(task_id, self.now, start, self.offset() - 1)
            self.taken.pop(task_id, None)


def check_priority(
    released: list[Held], pending_before: list[tuple[int, int]], gate: TypeGate
) -> None:
    orders = [h.order for h in released]
    assert orders == sorted(orders), "released out of priority order"
    assert orders == pending_before[: len(orders)], "a better held task was passed over"
    if released:
        worst = max(orders)
        assert all(h.order > worst for h in gate.pending.values())


def check_limits(run: Run) -> None:
    limits = run.limits
    if limits.concurrency:
        assert len(run.gate.out) <= limits.concurrency
    if limits.rate:
        assert len(run.gate.unstarted) <= limits.rate  # at most a window's worth prefetched
        # Where workers took the tasks (a release that ended unseen frees its slot: releases
        # alone may exceed the rate, hand-outs never do).
        for t in run.handouts:
            in_window = sum(1 for u in run.handouts if t - limits.window_ms < u <= t)
            assert in_window <= limits.rate, f"{in_window} hand-outs in the window ending {t}"


def play(limits: Limits, prefetch: int, ops: list[tuple[str, int]]) -> Run:
    run = Run(limits, prefetch)
    for op, arg in ops:
        getattr(run, op)(arg)
    return run


def fold(log: list[tuple[str, Any]]) -> TypeGate:
    """A new owner's rebuild: the same records, no decisions."""
    gate = TypeGate()
    for offset, (kind, data) in enumerate(log):
        if kind == "dispatch":
            gate.dispatch(data)
        elif kind == "released":
            gate.released(data[0], data[1], offset)
        elif kind == "started":
            gate.started(*data, offset)
        else:
            gate.ended_notice(*data, offset)
    return gate


@settings(max_examples=300, deadline=None)
@given(limits_st, st.integers(0, 3), st.lists(op_st, max_size=60))
@example(  # a released task nobody took for longer than the grace, then both taken at once
    Limits(rate=1),
    0,
    [("dispatch", 0), ("dispatch", 0), ("tick", 0), ("tick", GRACE + 1), ("take", 0), ("take", 0)],
)
def test_limits_and_priority_hold_under_any_interleaving(
    limits: Limits, prefetch: int, ops: list[tuple[str, int]]
) -> None:
    play(limits, prefetch, ops)  # the checks run after every decision


@settings(max_examples=300, deadline=None)
@given(limits_st, st.integers(0, 3), st.lists(op_st, max_size=60))
def test_nothing_held_is_lost(limits: Limits, prefetch: int, ops: list[tuple[str, int]]) -> None:
    run = play(limits, prefetch, ops)
    for _ in range(200):  # workers take, start and finish everything; time moves on
        for _task in list(run.gate.out):
            run.take(0)
        for _task in list(run.gate.out):
            run.start(0)
        for _task in list(run.gate.out):
            run.end(0)
        if not run.gate.pending:
            break
        run.tick(limits.window_ms)
    assert run.gate.held == 0
    released = {task_id for _, task_id in run.releases}
    assert set(run.dispatched) - run.ended_held <= released
    twice = [t for t in released if sum(1 for _, u in run.releases if u == t) > 1]
    assert set(twice) <= run.requeued, "a task was handed out twice without a re-queue"


@settings(max_examples=300, deadline=None)
@given(limits_st, st.integers(0, 3), st.lists(op_st, max_size=60))
def test_folding_the_log_again_gives_the_live_state(
    limits: Limits, prefetch: int, ops: list[tuple[str, int]]
) -> None:
    run = play(limits, prefetch, ops)

    rebuilt = fold(run.log)

    assert set(rebuilt.pending) == set(run.gate.pending)
    assert {t: o.started for t, o in rebuilt.out.items()} == {
        t: o.started for t, o in run.gate.out.items()
    }
    assert rebuilt.awaiting.keys() == run.gate.awaiting.keys()
    later = run.now + 1
    assert rebuilt.due(later, limits, 0, GRACE) == run.gate.due(later, limits, 0, GRACE)
