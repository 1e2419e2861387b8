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
import collections
import logging
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class ThreadPool:
    def __init__(self, name: str, size: int) -> None:
        self._pending: collections.deque[Callable[[], None]] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self.busy = 0
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        with self._cv:
            self._pending.append(job)
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if not self._pending:
                    return
                job = self._pending.popleft()
                self.busy += 1
            try:
                job()
            except Exception:  # a job reports its own failures; this is a bug in the SDK
                log.exception("worker job crashed")
            finally:
                with self._cv:
                    self.busy -= 1

    def discard_pending(self) -> int:
        with self._cv:
            count = len(self._pending)
            self._pending.clear()
            return count

    def shutdown(self) -> None:
        """Stop the threads once their current job ends (do not wait for them)."""
        with self._cv:
            self._pending.clear()
            self._closed = True
            self._cv.notify_all()


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
