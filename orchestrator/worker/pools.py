"""Where worker functions run: a pool of threads (sync functions) or one event loop (async ones).

Both run at most ``size`` jobs at once and queue the rest, so the poll loop can keep a small
backlog ready (no idle gap between one task ending and the next record being fetched). At
shutdown, queued jobs that have not started are dropped (``discard_pending``): their records are
not acknowledged and Kafka hands them to the next worker.

Threads are daemons on purpose: a sync function stuck past the shutdown grace period must not
keep the process alive (a ThreadPoolExecutor's threads are joined at interpreter exit).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class ThreadPool:
    """``size`` daemon threads taking jobs from one ``queue.SimpleQueue``.

    The queue is C code: a hand-off is one put, where a ``threading.Condition`` allocated a lock
    per wait and made the woken thread contend for the condition's lock with the submitter (a
    quarter of the worker SDK's GIL time at ~1,000 tasks/s, issue #6). A woken thread wakes the
    next one only after taking its job, so a burst of instant jobs is mostly served by threads
    that are already awake: 2.7 instead of 5.5 context switches per task for this change alone
    (scripts/bench_worker.py --step 50); a pool waking one thread per job measured 5.7.

    ``busy`` needs no lock on the pool threads' side: it is derived from counters, each written
    by one pool thread, or under ``_count_lock`` by the submitters (uncontended: the pool threads
    never take it). It is exact once nothing is submitted (the only time it is read: shutdown).
    """

    def __init__(self, name: str, size: int) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._closed = False
        self._count_lock = threading.Lock()
        self._accepted = 0  # submitted and not discarded
        self._finished = [0] * size  # slot i is written by thread i only
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def busy(self) -> int:
        """Jobs a thread has taken and not finished (queued ones are not counted)."""
        finished = sum(self._finished)
        return max(0, self._accepted - finished - self._jobs.qsize())

    def submit(self, job: Callable[[], None]) -> None:
        with self._count_lock:
            self._accepted += 1
        self._jobs.put(job)

    def _loop(self, slot: int) -> None:
        take = self._jobs.get
        finished = self._finished
        while True:
            job = take()
            if job is None or self._closed:
                return
            try:
                job()
            except Exception:  # a job reports its own failures; this is a bug in the SDK
                log.exception("worker job crashed")
            finally:
                finished[slot] += 1

    def discard_pending(self) -> int:
        """Drop the jobs no thread has taken yet; returns how many."""
        count = 0
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return count
            if job is not None:
                with self._count_lock:
                    self._accepted -= 1
                count += 1

    def shutdown(self) -> None:
        """Stop the threads once their current job ends (do not wait for them)."""
        self._closed = True
        self.discard_pending()
        for _ in self._threads:
            self._jobs.put(None)


class LoopPool:
    """One asyncio loop in its own thread, running at most ``size`` coroutines at once."""

    def __init__(self, name: str, size: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._size = size
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()
        self.busy = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._semaphore = asyncio.Semaphore(self._size)
        self._loop.run_forever()

    def submit(self, job: Callable[[], Awaitable[None]]) -> None:
        self._loop.call_soon_threadsafe(self._start, job)

    def _start(self, job: Callable[[], Awaitable[None]]) -> None:
        task = self._loop.create_task(self._guard(job))
        self._tasks.add(task)
        self._waiting.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._waiting.discard)

    async def _guard(self, job: Callable[[], Awaitable[None]]) -> None:
        assert self._semaphore is not None
        try:
            async with self._semaphore:
                current = asyncio.current_task()
                if current is not None:
                    self._waiting.discard(current)
                self.busy += 1
                try:
                    await job()
                finally:
                    self.busy -= 1
        except asyncio.CancelledError:
            pass  # abandoned at shutdown: not acknowledged, redelivered to another worker
        except Exception:
            log.exception("worker job crashed")

    def discard_pending(self) -> int:
        def cancel_waiting() -> int:
            waiting = list(self._waiting)
            for task in waiting:
                task.cancel()
            return len(waiting)

        async def run() -> int:
            return cancel_waiting()

        if not self._loop.is_running():
            return 0
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=5)

    def shutdown(self) -> None:
        """Cancel what still runs and stop the loop."""

        def cancel_all() -> None:
            for task in list(self._tasks):
                task.cancel()
            self._loop.call_later(0.2, self._loop.stop)

        if self._loop.is_running():
            self._loop.call_soon_threadsafe(cancel_all)
        self._thread.join(timeout=2)
