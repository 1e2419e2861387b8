"""How many records a worker's poll loop may take now (its flow control).

A loop takes new records while fewer than ``size`` (2 x concurrency) are executing or queued
for a thread, and fewer than ``max_unreported`` wait for their result's delivery. Counting the
results in flight against the small execution window made every task type wait one produce
round trip per window (60-100 tasks/s per type, measured by the bench, docs/benchmarks.md).

When the window is full the loop waits on its delivery queue (woken by the group's
producer-poll thread, or by an execution ending), not on Kafka; only a window full for
``PAUSE_AFTER_S`` (long tasks) pauses the partitions and keeps polling for the group's sake,
because a pause drops the records librdkafka has prefetched and a resume fetches them again.
"""

from __future__ import annotations

import threading

MAX_UNREPORTED = 2000  # records taken whose result is not yet delivered (memory bound)
PAUSE_AFTER_S = 1.0


class Window:
    def __init__(self, size: int, max_unreported: int = MAX_UNREPORTED) -> None:
        self.size = size
        self.max_unreported = max_unreported
        self._executing = 0  # submitted and not finished; pool threads decrement it
        self._lock = threading.Lock()
        self._full_since: float | None = None  # poll thread only

    def submitted(self) -> None:
        with self._lock:
            self._executing += 1

    def finished(self) -> bool:
        """An execution ended; True when the loop is waiting for room (wake it)."""
        with self._lock:
            self._executing -= 1
        return self._full_since is not None

    def free(self, unreported: int) -> int:
        """Records the loop may take now, given how many await their result's delivery."""
        return min(self.size - self._executing, self.max_unreported - unreported)

    def full_for(self, now: float) -> float:
        """Seconds the window has been full (the loop found no room at ``now``)."""
        if self._full_since is None:
            self._full_since = now
        return now - self._full_since

    def has_room(self) -> None:
        self._full_since = None
