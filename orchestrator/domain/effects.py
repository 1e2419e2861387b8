"""Effects: what the runtime must do after events are stored (the outputs of react/resume).

Effects are at-least-once: a runtime may perform one twice after a crash, so every receiver
makes duplicates harmless (a duplicate StartWorkflow is rejected as ALREADY_EXISTS, a duplicate
dispatch is deduplicated by task id, a stale TimerFired is rejected).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.domain.commands import Command, TimerKind
from orchestrator.domain.definitions import JSON
from orchestrator.domain.fastcopy import fast_init_module


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchTask:
    """A task handed to a worker or system executor: the fields of a Conductor `Task`."""

    task_id: str
    task_type: str  # the queue: the task name for SIMPLE, HTTP / EVENT / KAFKA_PUBLISH for those
    reference_task_name: str
    task_def_name: str
    input_data: JSON  # resolved; `${workflow.secrets.X}` left for the runtime to resolve
    workflow_instance_id: str
    root_workflow_id: str
    workflow_type: str
    workflow_version: int
    correlation_id: str | None
    retry_count: int
    poll_count: int
    seq: int
    scheduled_time: int
    start_delay_in_seconds: int
    response_timeout_seconds: int
    callback_after_seconds: int
    domain: str | None
    workflow_priority: int
    iteration: int
    retried_task_id: str | None
    timeout_seconds: int
    rate_limit_per_frequency: int
    rate_limit_frequency_in_seconds: int
    concurrent_exec_limit: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmitCommand:
    """Put a command on the commands topic (keyed by `command.root`)."""

    command: Command


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTimer:
    due_at: int
    kind: TimerKind
    workflow_id: str
    root_workflow_id: str
    task_id: str | None = None


Effect = DispatchTask | EmitCommand | ScheduleTimer

fast_init_module(globals())  # construction on the hot path (fastcopy.fast_init)
