"""What decide returns: Accepted(events) or Rejected(code, reason). Never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from orchestrator.domain.events import Event
from orchestrator.domain.state import WorkflowState


class RejectionCode(StrEnum):
    WORKFLOW_NOT_FOUND = "WORKFLOW_NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"  # start for an existing id (incl. idempotent duplicates)
    UNKNOWN_DEFINITION = "UNKNOWN_DEFINITION"
    INVALID_DEFINITION = "INVALID_DEFINITION"
    INVALID_REQUEST = "INVALID_REQUEST"
    WORKFLOW_TERMINAL = "WORKFLOW_TERMINAL"  # the workflow has ended; input ignored
    WORKFLOW_NOT_TERMINAL = "WORKFLOW_NOT_TERMINAL"  # retry/restart/rerun need an ended one
    NOT_RUNNING = "NOT_RUNNING"  # pause / skip need RUNNING
    NOT_PAUSED = "NOT_PAUSED"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    TASK_ALREADY_TERMINAL = "TASK_ALREADY_TERMINAL"  # duplicate or late report
    STALE_ATTEMPT = "STALE_ATTEMPT"  # report for an attempt that is not the current one
    TASK_NOT_QUEUED = "TASK_NOT_QUEUED"  # ack for a task not handed out (duplicate ack)
    TASK_ALREADY_PROCESSED = "TASK_ALREADY_PROCESSED"  # skip of a task already reached
    NOT_A_WORKER_TASK = "NOT_A_WORKER_TASK"  # report for a task the engine runs itself
    TIMER_STALE = "TIMER_STALE"  # the deadline no longer holds (or is not due yet)
    NOT_RESTARTABLE = "NOT_RESTARTABLE"
    NOTHING_TO_RETRY = "NOTHING_TO_RETRY"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    ENGINE_ERROR = "ENGINE_ERROR"  # the engine failed on it (a bug) and could not fail the workflow


@dataclass(frozen=True, slots=True)
class Accepted:
    events: tuple[Event, ...]
    # The state after each event, as decide's cascade folded them (evolve(s, events[i])), so the
    # processor need not evolve them again; empty when not kept. Derived data: not compared.
    states: tuple[WorkflowState, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rejected:
    code: RejectionCode
    reason: str


Decision = Accepted | Rejected
