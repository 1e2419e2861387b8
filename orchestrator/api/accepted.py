"""Starts that are durable on Kafka but maybe not projected yet: read-your-writes for a start.

A start answers once its ``StartWorkflow`` command is delivered to the commands topic (durable,
as Conductor answers once the workflow is persisted), not once the projector shows it. This
process remembers each such start for ``TTL_S``; a GET of the workflow that finds no row waits
briefly for the projection and otherwise answers from this record (status RUNNING, no tasks
yet), so a just-started workflow never reads as 404. If the engine refuses the start (the
rejections topic), the record says so and the GET is a 404 naming the engine's reason.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.domain import commands as cmd

TTL_S = 60.0  # far above the projector's lag; a start older than this is answered by the row
MAX_REMEMBERED = 100_000


@dataclass(slots=True)
class AcceptedStart:
    command: cmd.StartWorkflow
    accepted_at: float  # monotonic
    on_expiry: Callable[[], None] | None = None
    refusal: str | None = None  # the engine's reason, once refused

    def row(self) -> dict[str, Any]:
        """The start as a read-model row (the columns ``views.workflow_view`` reads)."""
        c = self.command
        return {
            "workflow_id": c.workflow_id,
            "workflow_type": c.name,
            "version": c.version,
            "status": "RUNNING",
            "input": c.input,
            "output": {},
            "variables": {},
            "correlation_id": c.correlation_id,
            "priority": c.priority,
            "reason": None,
            "create_time": c.at,
            "start_time": c.at,
            "update_time": c.at,
            "end_time": None,
            "parent_workflow_id": None,
            "parent_task_id": None,
            "root_workflow_id": c.workflow_id,
            "task_to_domain": c.task_to_domain or {},
            "idempotency_key": c.idempotency_key,
            "definition": None,
            "last_seq": 0,
            "failed_ref_names": [],
            "failed_task_names": [],
        }


@dataclass
class AcceptedStarts:
    """Bounded in count and age; pruned on every ``add`` (no timers)."""

    ttl_s: float = TTL_S
    limit: int = MAX_REMEMBERED
    clock: Callable[[], float] = time.monotonic
    _starts: OrderedDict[str, AcceptedStart] = field(default_factory=OrderedDict)

    def add(self, command: cmd.StartWorkflow, on_expiry: Callable[[], None] | None = None) -> None:
        now = self.clock()
        self._prune(now)
        self._starts[command.workflow_id] = AcceptedStart(command, now, on_expiry)
        self._starts.move_to_end(command.workflow_id)

    def get(self, workflow_id: str) -> AcceptedStart | None:
        start = self._starts.get(workflow_id)
        if start is not None and self.clock() - start.accepted_at > self.ttl_s:
            return None
        return start

    def refuse(self, workflow_id: str, reason: str) -> None:
        start = self._starts.get(workflow_id)
        if start is not None:
            start.refusal = reason

    def __len__(self) -> int:
        return len(self._starts)

    def _prune(self, now: float) -> None:
        while self._starts:
            oldest = next(iter(self._starts.values()))
            if now - oldest.accepted_at <= self.ttl_s and len(self._starts) < self.limit:
                return
            self._starts.popitem(last=False)
            if oldest.on_expiry is not None:
                oldest.on_expiry()
