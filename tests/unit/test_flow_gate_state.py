"""The task gate's pure state: given records folded, when the gate decides, then what goes out."""

from __future__ import annotations

from orchestrator.flow.gate_state import Held, Limits, PartitionGate, TypeGate

GRACE = 10_000


def held(task_id: str, priority: int = 0, arrival: int = 0) -> Held:
    return Held(task_id, priority, arrival)


def given(*tasks: Held) -> TypeGate:
    gate = TypeGate()
    for task in tasks:
        gate.dispatch(task)
    return gate


def ids(released: list[Held]) -> list[str]:
    return [h.task_id for h in released]


def test_limits_of_a_definition_treat_zero_and_none_as_no_limit() -> None:
    assert not Limits.of(0, 1, None).limited
    assert not Limits.of(None, None, 0).limited
    assert Limits.of(5, 0, None) == Limits(rate=5, window_ms=1000, concurrency=0)
    assert Limits.of(0, 3, 2) == Limits(rate=0, window_ms=3000, concurrency=2)


def test_holds_tasks_over_the_rate_until_the_window_moves() -> None:
    gate = given(*(held(f"t{i}", arrival=i) for i in range(5)))
    limits = Limits(rate=2, window_ms=1000)

    assert ids(gate.due(0, limits, 0, GRACE)) == ["t0", "t1"]
    assert gate.due(999, limits, 0, GRACE) == []
    gate.started("t0", 0)
    gate.started("t1", 0)
    assert ids(gate.due(1000, limits, 0, GRACE)) == ["t2", "t3"]
    gate.started("t2", 1000)
    gate.started("t3", 1000)
    assert ids(gate.due(2000, limits, 0, GRACE)) == ["t4"]
    assert gate.held == 0


def test_the_window_counts_from_when_workers_took_the_tasks_not_from_their_release() -> None:
    gate = given(*(held(f"t{i}", arrival=i) for i in range(4)))
    limits = Limits(rate=2, window_ms=1000)
    assert ids(gate.due(0, limits, 0, GRACE)) == ["t0", "t1"]

    # Nobody polled for a while: both waited in the task topic, taken together at 5000.
    assert gate.due(4000, limits, 0, GRACE) == []  # released, not taken: their slots stay
    gate.started("t0", 5000)
    gate.ended_notice("t1", 5010, start=5000)  # a fast task: its result carried started_at

    assert gate.due(5999, limits, 0, GRACE) == []  # two hand-outs in the window ending now
    assert ids(gate.due(6000, limits, 0, GRACE)) == ["t2", "t3"]


def test_a_slack_keeps_each_hand_out_in_the_window_longer() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1))
    limits = Limits(rate=1, window_ms=1000)
    gate.due(0, limits, 0, GRACE, slack_ms=50)
    gate.started("a", 10)

    assert gate.due(1059, limits, 0, GRACE, slack_ms=50) == []
    assert ids(gate.due(1060, limits, 0, GRACE, slack_ms=50)) == ["b"]


def test_an_unacknowledged_release_keeps_its_rate_slot_past_the_grace() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1))
    limits = Limits(rate=1, window_ms=1000)
    gate.due(0, limits, 0, GRACE)

    assert gate.due(GRACE * 3, limits, 0, GRACE) == []  # it may still be taken at any moment
    gate.ended_notice("a", GRACE * 3)  # ended without a hand-out (e.g. canceled in the topic)
    assert ids(gate.due(GRACE * 3 + 1, limits, 0, GRACE)) == ["b"]


def test_concurrency_limit_frees_a_slot_when_a_task_ends() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1), held("c", arrival=2))
    limits = Limits(concurrency=2)

    assert ids(gate.due(0, limits, 0, GRACE)) == ["a", "b"]
    gate.started("a", 1)
    assert gate.due(5, limits, 0, GRACE) == []  # started still counts: it is running
    gate.ended_notice("a", 6)
    assert ids(gate.due(7, limits, 0, GRACE)) == ["c"]


def test_higher_priority_goes_first_and_fifo_within_a_priority() -> None:
    gate = given(held("low1", 0, 0), held("low2", 0, 1), held("high1", 90, 2), held("high2", 90, 3))

    released = gate.due(0, Limits(concurrency=10), 0, GRACE)

    assert ids(released) == ["high1", "high2", "low1", "low2"]


def test_prefetch_holds_the_backlog_until_released_tasks_start() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1), held("c", 50, arrival=2))

    assert ids(gate.due(0, Limits(), 1, GRACE)) == ["c"]
    assert gate.due(1, Limits(), 1, GRACE) == []
    gate.started("c", 1)
    assert ids(gate.due(2, Limits(), 1, GRACE)) == ["a"]


def test_unacknowledged_release_stops_counting_for_prefetch_after_the_grace() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1))
    assert ids(gate.due(0, Limits(), 1, GRACE)) == ["a"]

    assert gate.due(GRACE - 1, Limits(), 1, GRACE) == []
    assert ids(gate.due(GRACE, Limits(), 1, GRACE)) == ["b"]
    assert set(gate.out) == {"a", "b"}  # both still count for a concurrency limit


def test_task_ended_while_held_is_never_handed_out() -> None:
    gate = given(held("a", arrival=0), held("b", arrival=1))

    gate.ended_notice("a", 1)  # e.g. its workflow was terminated

    assert ids(gate.due(2, Limits(), 0, GRACE)) == ["b"]


def test_duplicate_dispatch_of_a_held_or_unstarted_task_changes_nothing() -> None:
    gate = given(held("a", arrival=0))
    gate.dispatch(held("a", 99, arrival=5))  # processor replay: same task, later offset
    assert gate.pending["a"].arrival == 0

    gate.due(0, Limits(), 0, GRACE)
    gate.dispatch(held("a", arrival=6))  # resume re-dispatch while the released copy waits

    assert gate.held == 0 and set(gate.out) == {"a"}


def test_dispatch_of_a_started_task_is_a_requeue_that_waits_again() -> None:
    gate = given(held("a", arrival=0))
    gate.due(0, Limits(concurrency=1), 0, GRACE)
    gate.started("a", 0)

    gate.dispatch(held("a", arrival=7))  # a callback delay ended: TaskQueued re-dispatches

    assert gate.held == 1 and gate.out == {}
    assert ids(gate.due(1, Limits(concurrency=1), 0, GRACE)) == ["a"]


def test_late_duplicate_of_an_ended_task_is_ignored() -> None:
    gate = given(held("a", arrival=0))
    gate.due(0, Limits(), 0, GRACE)
    gate.ended_notice("a", 1)

    gate.dispatch(held("a", arrival=9))

    assert gate.held == 0 and gate.out == {}


def test_rebuild_from_the_log_takes_out_released_tasks_and_counts_the_window() -> None:
    gate = TypeGate()
    gate.dispatch(held("a", arrival=0))
    gate.dispatch(held("b", arrival=1))
    gate.released("a", 100, offset=2)  # written by the previous owner
    gate.started("a", 150, offset=3)

    assert set(gate.pending) == {"b"} and gate.out["a"].started
    limits = Limits(rate=1, window_ms=1000)
    assert gate.due(1000, limits, 0, GRACE) == []  # a's hand-out still fills the window
    assert ids(gate.due(1150, limits, 0, GRACE)) == ["b"]


def test_started_notice_ahead_of_the_released_record_is_kept() -> None:
    gate = given(held("a", arrival=0))

    gate.started("a", 12)  # the worker's ack overtook the gate's own Released record in the log
    gate.released("a", 10, offset=3)

    assert gate.out["a"].started and gate.awaiting == {}
    assert set(gate.window) == {("a", 12)}


def test_reading_back_an_own_release_does_not_change_the_decision() -> None:
    gate = given(held("a", arrival=0))
    gate.due(10, Limits(rate=1), 0, GRACE)
    gate.started("a", 11)
    gate.dispatch(held("a", arrival=4))  # requeued before the Released record was read back

    gate.released("a", 10, offset=5)

    assert gate.held == 1  # still waiting: the record was this gate's own, already applied


def test_commit_point_keeps_held_in_flight_and_windowed_records() -> None:
    part = PartitionGate(position=20)
    gate = part.gate("t")
    gate.dispatch(held("a", arrival=5))
    gate.dispatch(held("b", arrival=8))
    assert part.commit_point() == 5

    gate.released("a", 1000, offset=9)
    gate.ended_notice("a", 1001, start=1000, offset=10)
    assert part.commit_point() == 8  # b still held

    gate.ended_notice("b", 1002, offset=11)
    assert part.commit_point() == 10  # a's hand-out is still in the window
    gate.due(5000, Limits(rate=1, window_ms=1000), 0, GRACE)
    assert part.commit_point() == 20  # nothing needed: the read position


def test_requeued_task_waits_behind_earlier_arrivals_after_a_rebuild() -> None:
    gate = TypeGate()  # folding: a released by the previous owner, started, then re-queued
    gate.dispatch(held("a", arrival=0))
    gate.dispatch(held("b", arrival=1))
    gate.released("a", 10, offset=2)
    gate.started("a", 11, offset=3)
    gate.dispatch(held("a", arrival=4))

    assert ids(gate.due(20, Limits(), 0, GRACE)) == ["b", "a"]


def test_rate_limited_type_prefetches_at_most_one_window() -> None:
    gate = given(*(held(f"t{i}", arrival=i) for i in range(6)))
    limits = Limits(rate=2, window_ms=1000)

    assert ids(gate.due(0, limits, 16, GRACE)) == ["t0", "t1"]
    assert gate.due(1000, limits, 16, GRACE) == []  # nobody started them: the window waits
    gate.started("t0", 1000)
    assert gate.due(1001, limits, 16, GRACE) == []  # t0 taken at 1000: in the window till 2000
    assert ids(gate.due(2000, limits, 16, GRACE)) == ["t2"]
