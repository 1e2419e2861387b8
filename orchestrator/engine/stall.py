"""A watchdog for faust's rebalance handling: streams left paused after a rebalance.

faust pauses every partition when a rebalance starts and resumes the stream partitions only when
the table recovery of *that* generation completes. When a second rebalance overtakes the first
(the consumer thread's generation moves on while the first assignment is still being handled),
faust can drop the recovery of the older generation and, in the runs the takeover test caught,
never resume: the processor keeps its partitions, sends heartbeats, and reads nothing from them
(issue 4; faust-streaming issue 629 is the same symptom). No rebalance follows by itself, so the
work of those partitions would wait forever.

The watchdog sees the symptom, not the cause: commands partitions of the current assignment
paused (or the flow stopped) for longer than any healthy rebalance takes. It then asks the group
coordinator to rejoin, which starts a fresh generation and with it a complete revoke, assign and
recovery cycle. A rejoin is always safe for correctness (it is what any membership change does);
a false alarm costs one extra rebalance.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

# A healthy join completes well within the rebalance timeout (20 s); a healthy recovery of the
# state table may take longer on a big changelog, so it gets more time.
STALL_LIMIT_S = 25.0
STALL_IN_RECOVERY_LIMIT_S = 180.0


class StallWatch:
    def __init__(self, app: Any, commands_topic: str) -> None:
        self.app = app
        self.commands_topic = commands_topic
        self.since: float | None = None
        self.rejoins = 0

    def stalled_partitions(self) -> set[int] | None:
        """The assigned commands partitions that cannot be read now (None when all flow)."""
        consumer = self.app.consumer
        try:
            assigned = {tp for tp in consumer.assignment() if tp.topic == self.commands_topic}
        except Exception:  # the consumer is not started yet: nothing to watch
            return None
        if not assigned:
            return None
        paused = {tp.partition for tp in assigned if tp in consumer._paused_partitions}
        if not consumer.can_resume_flow.is_set():
            return {tp.partition for tp in assigned}
        return paused or None

    def check(self, now: float | None = None) -> bool:
        """Called every second; True when it asked for a rejoin."""
        now = time.monotonic() if now is None else now
        stalled = self.stalled_partitions()
        if stalled is None:
            self.since = None
            return False
        if self.since is None:
            self.since = now
            return False
        recovering = bool(getattr(self.app.tables.recovery, "in_recovery", False))
        limit = STALL_IN_RECOVERY_LIMIT_S if recovering else STALL_LIMIT_S
        if now - self.since < limit:
            return False
        log.error(
            "commands partitions %s have not been read for %.0f s (recovery running: %s); "
            "asking the group to rebalance",
            sorted(stalled),
            now - self.since,
            recovering,
        )
        self._request_rejoin()
        self.rejoins += 1
        self.since = now  # give the new generation the same time
        return True

    def _request_rejoin(self) -> None:
        thread = self.app.consumer._thread
        coordinator = thread._ensure_consumer()._coordinator
        thread.thread_loop.call_soon_threadsafe(coordinator.request_rejoin)
