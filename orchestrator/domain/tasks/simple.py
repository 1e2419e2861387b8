"""SIMPLE (and any unknown type name): handed to a worker polling the queue named `name`.
HTTP, EVENT and KAFKA_PUBLISH are dispatched the same way, to built-in system executors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.tasks.common import BaseHandler

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade


class SimpleHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.SIMPLE,)
    dispatched = True
    accepts_reports = True
    requeued_on_progress = True  # Conductor: a worker's IN_PROGRESS means "hand it to me later"

    def task_type(self, wt: WorkflowTask) -> str:
        return wt.name  # Conductor: a SIMPLE task's taskType is its name (the queue)


class SystemExecutorHandler(BaseHandler):
    """Side-effecting system tasks run by the runtime's executors, reported like a worker's."""

    kinds: tuple[TaskType, ...] = (TaskType.HTTP, TaskType.KAFKA_PUBLISH)
    dispatched = True
    accepts_reports = True


class EventHandler(SystemExecutorHandler):
    kinds: tuple[TaskType, ...] = (TaskType.EVENT,)

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        # Conductor's EventTaskMapper puts the sink and asyncComplete into the task input.
        if not isinstance(resolved, dict):
            return resolved
        return {**resolved, "sink": wt.sink, "asyncComplete": wt.async_complete}
