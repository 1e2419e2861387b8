"""The worker's thread pool (orchestrator/worker/pools.py): bounded, queued, droppable, daemon."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from orchestrator.worker.pools import ThreadPool

WAIT_S = 5.0


def eventually(condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class Gate:
    """Jobs that block until released, recording how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.ended: list[int] = []

    def job(self, n: int) -> Callable[[], None]:
        def run() -> None:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
                self.started.append(n)
            self.release.wait(WAIT_S)
            with self.lock:
                self.running -= 1
                self.ended.append(n)

        return run


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.release.set()  # never leave a pool thread blocked


def test_runs_at_most_size_jobs_at_once_and_queues_the_rest(gate: Gate) -> None:
    pool = ThreadPool("t", 3)
    for n in range(10):
        pool.submit(gate.job(n))
    assert eventually(lambda: len(gate.started) == 3)
    time.sleep(0.05)
    assert gate.most == 3 and pool.busy == 3
    gate.release.set()
    assert eventually(lambda: len(gate.ended) == 10)
    assert gate.most == 3
    assert eventually(lambda: pool.busy == 0)
    pool.shutdown()


def test_queued_jobs_run_in_submission_order_once_threads_free_up(gate: Gate) -> None:
    pool = ThreadPool("t", 1)
    for n in range(5):
        pool.submit(gate.job(n))
    gate.release.set()
    assert eventually(lambda: len(gate.ended) == 5)
    assert gate.started == [0, 1, 2, 3, 4]
    pool.shutdown()


def test_busy_counts_running_jobs_not_queued_ones(gate: Gate) -> None:
    pool = ThreadPool("t", 2)
    assert pool.busy == 0
    for n in range(5):
        pool.submit(gate.job(n))
    assert eventually(lambda: len(gate.started) == 2)
    assert pool.busy == 2
    gate.release.set()
    assert eventually(lambda: pool.busy == 0 and len(gate.ended) == 5)
    pool.shutdown()


def test_discard_pending_drops_only_jobs_not_started_and_says_how_many(gate: Gate) -> None:
    pool = ThreadPool("t", 2)
    for n in range(6):
        pool.submit(gate.job(n))
    assert eventually(lambda: len(gate.started) == 2)
    assert pool.discard_pending() == 4
    assert pool.discard_pending() == 0
    assert pool.busy == 2  # the running ones keep running
    gate.release.set()
    assert eventually(lambda: len(gate.ended) == 2)
    time.sleep(0.05)
    assert sorted(gate.started) == [0, 1]
    assert eventually(lambda: pool.busy == 0)
    pool.shutdown()


def test_a_crashing_job_is_logged_and_its_thread_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ThreadPool("t", 1)
    done = threading.Event()

    def crash() -> None:
        raise RuntimeError("boom")

    pool.submit(crash)
    pool.submit(done.set)
    assert done.wait(WAIT_S)
    assert any("worker job crashed" in r.getMessage() for r in caplog.records)
    assert eventually(lambda: pool.busy == 0)
    pool.shutdown()


def test_shutdown_does_not_wait_for_a_running_job_and_threads_end_after_it(gate: Gate) -> None:
    pool = ThreadPool("t", 2)
    pool.submit(gate.job(0))
    pool.submit(gate.job(1))
    pool.submit(gate.job(2))  # queued: dropped by the shutdown
    assert eventually(lambda: len(gate.started) == 2)
    began = time.monotonic()
    pool.shutdown()
    assert time.monotonic() - began < 0.5
    threads = pool._threads
    assert all(t.daemon for t in threads)  # a stuck job cannot keep the process alive
    assert all(t.is_alive() for t in threads)
    gate.release.set()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads)
    assert sorted(gate.ended) == [0, 1]


def test_idle_threads_end_at_shutdown_and_later_jobs_are_not_run() -> None:
    pool = ThreadPool("t", 3)
    pool.shutdown()
    for t in pool._threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in pool._threads)
    ran = threading.Event()
    pool.submit(ran.set)
    assert not ran.wait(0.1)


def test_many_jobs_from_several_submitters_all_run_exactly_once() -> None:
    pool = ThreadPool("t", 4)
    seen: list[int] = []
    lock = threading.Lock()

    def job(n: int) -> Callable[[], None]:
        def run() -> None:
            with lock:
                seen.append(n)

        return run

    def submit_range(start: int) -> None:
        for n in range(start, start + 2000):
            pool.submit(job(n))

    submitters = [threading.Thread(target=submit_range, args=(k * 2000,)) for k in range(3)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    assert eventually(lambda: len(seen) == 6000)
    assert sorted(seen) == list(range(6000))
    assert eventually(lambda: pool.busy == 0)
    pool.shutdown()
