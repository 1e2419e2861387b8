"""BaseHandler: the defaults of the TaskHandler protocol, to subclass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask, effective_type
from orchestrator.domain.payload_limits import task_output_problem
from orchestrator.domain.statuses import TaskStatus

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.commands import ChildWorkflowFinished, TimerFired
    from orchestrator.domain.effects import Effect
    from orchestrator.domain.events import Event
    from orchestrator.domain.outcome import Rejected
    from orchestrator.domain.state import TaskState, WorkflowState


class BaseHandler:
    kinds: tuple[TaskType, ...] = ()
    dispatched: bool = False
    accepts_reports: bool = False
    initial_status: TaskStatus = TaskStatus.SCHEDULED
    starts_child: bool = False
    requeued_on_progress: bool = False

    def task_type(self, wt: WorkflowTask) -> str:
        return str(effective_type(wt))

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        return resolved

    def refusal(self, c: Cascade, wt: WorkflowTask, task_input: JSON, iteration: int) -> str | None:
        return None

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        return None

    def on_container_end(self, c: Cascade, container: TaskState, finished: TaskState) -> None:
        return None

    def on_awaited_done(self, c: Cascade, task: TaskState) -> None:
        return None

    def on_child_done(
        self, c: Cascade, task: TaskState, cmd: ChildWorkflowFinished
    ) -> Rejected | None:
        from orchestrator.domain.outcome import Rejected, RejectionCode

        return Rejected(RejectionCode.NOT_SUPPORTED, f"{task.kind} tasks have no child workflow")

    def on_timer(self, c: Cascade, task: TaskState, cmd: TimerFired) -> None:
        return None

    def handler_deadline(self, state: WorkflowState, task: TaskState) -> int | None:
        return None

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        return False

    def resolve(self, c: Cascade, wt: WorkflowTask) -> WorkflowTask:
        return wt

    def effects(
        self, state: WorkflowState, task: TaskState, event: Event | None
    ) -> tuple[Effect, ...]:
        return ()


class InlineHandler(BaseHandler):
    """A system task the engine evaluates at once: `evaluate` returns the output or raises
    TaskError; the task completes (or fails) within the same decision. An output over the
    task output limit (Context.payload_limits) fails the task for good, with an empty output
    (Conductor's ExternalPayloadStorageUtils.failTask)."""

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        try:
            output = self.evaluate(c, task, wt)
        except TaskError as error:
            c.fail(task.task_id, str(error), output=error.output)
            return
        too_large = task_output_problem(c.ctx.payload_limits, task.ref, output)
        if too_large is not None:
            c.fail(task.task_id, too_large, status=TaskStatus.FAILED_WITH_TERMINAL_ERROR)
            return
        c.complete(task.task_id, output)

    def evaluate(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> JSON:
        return {}


class TaskError(Exception):
    """An inline task failed; the message becomes reasonForIncompletion."""

    def __init__(self, message: str, output: JSON | None = None) -> None:
        super().__init__(message)
        self.output: JSON = output if output is not None else {}
