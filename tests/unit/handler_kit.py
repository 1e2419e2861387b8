"""Given/when/then helpers for task-type handler tests: one workflow, driven command by command
through decide -> evolve -> react, with the effects of each decision kept for the `then`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.effects import Effect, EmitCommand, ScheduleTimer
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Rejected
from orchestrator.domain.react import react
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context

__all__ = ["T0", "Flow", "flow", "task", "workflow"]

E = TypeVar("E", bound=ev.EventBase)


@dataclass
class Flow:
    """One workflow execution under test."""

    ctx: Context
    workflow_id: str = "wf-1"
    state: WorkflowState | None = None
    events: list[ev.Event] = field(default_factory=list)  # of the last accepted decision
    effects: list[Effect] = field(default_factory=list)  # of the last accepted decision
    history: list[ev.Event] = field(default_factory=list)

    def when(self, command: cmd.Command) -> Accepted | Rejected:
        decision = decide(self.state, command, self.ctx)
        if isinstance(decision, Rejected):
            return decision
        self.events, self.effects = list(decision.events), []
        for event in decision.events:
            self.state = evolve(self.state, event)
            self.effects.extend(react(self.state, event))
        self.history.extend(decision.events)
        return decision

    def accept(self, command: cmd.Command) -> list[ev.Event]:
        decision = self.when(command)
        assert isinstance(decision, Accepted), decision
        return list(decision.events)

    def start(self, name: str, input: Any = None, **kw: Any) -> list[ev.Event]:
        return self.accept(
            cmd.StartWorkflow(
                workflow_id=self.workflow_id,
                at=T0,
                actor="api:test",
                name=name,
                input=input if input is not None else {},
                **kw,
            )
        )

    # --- reading ---------------------------------------------------------------------------

    @property
    def st(self) -> WorkflowState:
        assert self.state is not None
        return self.state

    def task(self, ref: str) -> TaskState:
        found = self.st.current(ref)
        assert found is not None, f"no task {ref}"
        return found

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def emitted(self, cls: type[cmd.CommandBase] | None = None) -> list[Any]:
        found = [e.command for e in self.effects if isinstance(e, EmitCommand)]
        return [c for c in found if cls is None or isinstance(c, cls)]

    def timers(self) -> list[ScheduleTimer]:
        return [e for e in self.effects if isinstance(e, ScheduleTimer)]

    # --- commands --------------------------------------------------------------------------

    def _base(self, at: int) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "at": at, "actor": "api:test"}

    def report(
        self, ref: str, status: TaskStatus, output: Any = None, at: int = T0, **kw: Any
    ) -> Accepted | Rejected:
        return self.when(
            cmd.ReportTaskResult(
                task_id=self.task(ref).task_id,
                status=status,
                output=output if output is not None else {},
                **self._base(at),
                **kw,
            )
        )

    def update(
        self, ref: str, status: TaskStatus, output: Any = None, at: int = T0
    ) -> Accepted | Rejected:
        return self.when(
            cmd.UpdateTaskByRef(
                task_ref=ref,
                status=status,
                output=output if output is not None else {},
                **self._base(at),
            )
        )

    def child_finished(
        self,
        ref: str,
        status: Any,
        output: Any = None,
        reason: str | None = None,
        at: int = T0,
        child_id: str | None = None,
        task_id: str | None = None,
    ) -> Accepted | Rejected:
        t = self.task(ref)
        return self.when(
            cmd.ChildWorkflowFinished(
                parent_task_id=task_id or t.task_id,
                child_workflow_id=child_id or str(t.child_workflow_id),
                status=status,
                output=output if output is not None else {},
                reason=reason,
                **self._base(at),
            )
        )

    def fire(
        self, timer: ScheduleTimer, at: int | None = None, due_at: int | None = None
    ) -> Accepted | Rejected:
        return self.when(
            cmd.TimerFired(
                workflow_id=timer.workflow_id,
                at=timer.due_at if at is None else at,
                actor="timer",
                kind=timer.kind,
                due_at=timer.due_at if due_at is None else due_at,
                task_id=timer.task_id,
            )
        )


def flow(
    defs: Iterable[WorkflowDef] = (), task_defs: Iterable[TaskDef] = (), workflow_id: str = "wf-1"
) -> Flow:
    return Flow(ctx=dict_context(list(defs), list(task_defs)), workflow_id=workflow_id)
