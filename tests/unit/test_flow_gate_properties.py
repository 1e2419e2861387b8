"""Properties of the task gate's state under random interleavings of dispatches, starts, ends,
duplicates, re-queues and time: the limits always hold, priority orders every release, nothing
is lost, and folding the gate's log again gives the live state (what a rebuild relies on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
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

    def start(self, pick: int) -> None:
        waiting = [t for t, o in self.gate.out.items() if not o.started]
        if waiting:
            task_id = waiting[pick % len(waiting)]
            self.log.append(("started", task_id))
            self.gate.started(task_id)

    def end(self, pick: int) -> None:
        candidates = sorted({*self.gate.out, *self.gate.pending})
        if candidates:
            task_id = candidates[pick % len(candidates)]
            if task_id in self.gate.pending and task_id not in self.gate.out:
                self.ended_held.add(task_id)
            self.log.append(("ended", (task_id, self.now)))
            self.gate.ended_notice(task_id, self.now)


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
        times = [t for t, _ in run.releases]
        for t in times:
            in_window = sum(1 for u in times if t - limits.window_ms < u <= t)
            assert in_window <= limits.rate, f"{in_window} releases in the window ending {t}"


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
            gate.started(data)
        else:
            gate.ended_notice(*data)
    return gate


@settings(max_examples=300, deadline=None)
@given(limits_st, st.integers(0, 3), st.lists(op_st, max_size=60))
def test_limits_and_priority_hold_under_any_interleaving(
    limits: Limits, prefetch: int, ops: list[tuple[str, int]]
) -> None:
    play(limits, prefetch, ops)  # the checks run after every decision


@settings(max_examples=300, deadline=None)
@given(limits_st, st.integers(0, 3), st.lists(op_st, max_size=60))
def test_nothing_held_is_lost(limits: Limits, prefetch: int, ops: list[tuple[str, int]]) -> None:
    run = play(limits, prefetch, ops)
    for _ in range(200):  # workers start and finish everything; time moves on
        for task_id in list(run.gate.out):
            run.start(0)
            run.log.append(("ended", (task_id, run.now)))
            run.gate.ended_notice(task_id, run.now)
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
    later = run.now + 1
    assert rebuilt.due(later, limits, 0, GRACE) == run.gate.due(later, limits, 0, GRACE)
