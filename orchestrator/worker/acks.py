"""Deferred acknowledgements: a task that ends quickly is reported in one record, not two.

Conductor's poll marks a task IN_PROGRESS at once; here the SDK tells the engine with a
``TaskStarted`` command. For a task that finishes within ``ack_after_ms`` that acknowledgement
is pure overhead (a command, an event, their bytes on the broker, a projector row update), so
the runner holds it back: if the result comes first, the ``ReportTaskResult`` carries the time
the task was taken (``started_at``) and the engine records pickup and result together; if the
task is still running when the delay is up, the ``TaskStarted`` goes out then, and the task
definition's ``responseTimeoutSeconds`` applies from there as before.

Order is kept by one lock: an acknowledgement is produced while the lock is held, so a result
that finds no pending entry (the acknowledgement won) is produced after it, on the same
partition (key = root workflow id).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from orchestrator.domain.effects import DispatchTask
from orchestrator.worker.reporter import Reporter, now_ms


class DeferredAcks:
    def __init__(
        self,
        reporter: Reporter,
        ack_after_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reporter = reporter
        self.delay_s = max(0, ack_after_ms) / 1000
        self.clock = clock
        self._lock = threading.Lock()
        # task id -> (dispatch, started_at epoch ms, acknowledge at this clock reading)
        self._pending: dict[str, tuple[DispatchTask, int, float]] = {}

    def taken(self, dispatch: DispatchTask) -> None:
        """The runner took ``dispatch``: acknowledge now, or once the delay is up."""
        if self.delay_s <= 0:
            self.reporter.started(dispatch)
            return
        with self._lock:
            self._pending[dispatch.task_id] = (dispatch, now_ms(), self.clock() + self.delay_s)

    def send_due(self) -> int:
        """Acknowledge every task still running after the delay; returns how many."""
        if not self._pending:  # the common case, without the lock
            return 0
        now = self.clock()
        with self._lock:
            due = [task_id for task_id, (_, _, at) in self._pending.items() if at <= now]
            for task_id in due:
                self.reporter.started(self._pending.pop(task_id)[0])
        return len(due)

    def next_due_in(self) -> float:
        """Seconds until the next acknowledgement is due (0 if one is overdue, inf if none):
        how long the poll loop may block. Entries are due in the order they were taken."""
        if not self._pending:
            return math.inf
        with self._lock:
            first = next(iter(self._pending.values()), None)
        return math.inf if first is None else max(0.0, first[2] - self.clock())

    def reported(self, task_id: str) -> int | None:
        """A report of ``task_id`` is about to be produced: the ``started_at`` it must carry
        (the task was never acknowledged), or None (its acknowledgement went out first)."""
        with self._lock:
            entry = self._pending.pop(task_id, None)
        return entry[1] if entry is not None else None

    def __len__(self) -> int:
        return len(self._pending)
