"""The worker loop's flow control: executions and undelivered results are bounded apart."""

from __future__ import annotations

from orchestrator.worker.window import Window


def test_results_awaiting_delivery_do_not_use_the_execution_window() -> None:
    window = Window(size=4, max_unreported=100)
    for _ in range(4):
        window.submitted()
    assert window.free(unreported=4) == 0
    for _ in range(4):
        window.finished()  # executed; their results are still being delivered
    assert window.free(unreported=4) == 4


def test_undelivered_results_are_bounded_too() -> None:
    window = Window(size=4, max_unreported=10)
    assert window.free(unreported=8) == 2
    assert window.free(unreported=10) == 0


def test_an_ending_execution_wakes_the_loop_only_while_it_waits_for_room() -> None:
    window = Window(size=1)
    window.submitted()
    assert window.finished() is False
    window.submitted()
    window.full_for(now=10.0)
    assert window.finished() is True
    window.has_room()
    window.submitted()
    assert window.finished() is False


def test_full_for_counts_from_when_the_window_first_filled() -> None:
    window = Window(size=1)
    assert window.full_for(now=5.0) == 0.0
    assert window.full_for(now=6.5) == 1.5
    window.has_room()
    assert window.full_for(now=9.0) == 0.0
