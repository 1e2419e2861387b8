"""Builders and a pure given/when/then harness for engine tests (no runtime, no effects run)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from orchestrator.domain import commands as cmd
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.effects import Effect
from orchestrator.domain.events import Event
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Decision, Rejected
from orchestrator.domain.react import react
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.testing.context import dict_context

T0 = 1_700_000_000_000


def task(ref: str, type: str = "SIMPLE", name: str | None = None, **kw: Any) -> WorkflowTask:
    return WorkflowTask(name=name or ref, task_reference_name=ref, type=type, **kw)


def workflow(name: str, *tasks: WorkflowTask, **kw: Any) -> WorkflowDef:
    return WorkflowDef(name=name, tasks=tuple(tasks), **kw)


@dataclass
class Engine:
    """Decides commands against one workflow's state, folding accepted events as it goes."""

    ctx: Context
    workflow_id: str = "wf-1"
    now: int = T0
    state: WorkflowState | None = None
    history: list[Event] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    last: Decision | None = None

    @classmethod
    def of(
        cls,
        defs: list[WorkflowDef],
        task_defs: list[TaskDef] = (),
        **kw: Any,  # type: ignore[assignment]
    ) -> Engine:
        ctx = dict_context(defs, task_defs, kw.pop("scripts", None))
        limits = kw.pop("payload_limits", None)
        if limits is not None:
            ctx = dataclasses.replace(ctx, payload_limits=limits)
        return cls(ctx=ctx, **kw)

    def send(self, command: cmd.Command) -> Decision:
        decision = decide(self.state, command, self.ctx)
        self.last = decision
        if isinstance(decision, Accepted):
            for event in decision.events:
                self.state = evolve(self.state, event)
                self.history.append(event)
                self.effects.extend(react(self.state, event))
        return decision

    def _base(self, at: int | None, actor: str) -> dict[str, Any]:
        if at is not None:
            self.now = at
        return {"workflow_id": self.workflow_id, "at": self.now, "actor": actor}

    def start(self, name: str, input: Any = None, at: int | None = None, **kw: Any) -> Decision:
        return self.send(
            cmd.StartWorkflow(name=name, input=input or {}, **self._base(at, "api:test"), **kw)
        )

    def t(self, ref: str) -> TaskState:
        assert self.state is not None
        found = self.state.lookup_ref(ref)
        assert found is not None, f"no task {ref}"
        return found

    def ack(self, ref: str, at: int | None = None) -> Decision:
        return self.send(
            cmd.TaskStarted(
                task_id=self.t(ref).task_id, worker_id="w1", **self._base(at, "worker:w1")
            )
        )

    def report(
        self,
        ref: str,
        status: TaskStatus = TaskStatus.COMPLETED,
        output: Any = None,
        at: int | None = None,
        task_id: str | None = None,
        **kw: Any,
    ) -> Decision:
        return self.send(
            cmd.ReportTaskResult(
                task_id=task_id or self.t(ref).task_id,
                status=status,
                output=output or {},
                worker_id="w1",
                **self._base(at, "worker:w1"),
                **kw,
            )
        )

    def fire(self, kind: cmd.TimerKind, ref: str | None, due_at: int) -> Decision:
        task_id = self.t(ref).task_id if ref else None
        return self.send(
            cmd.TimerFired(kind=kind, task_id=task_id, due_at=due_at, **self._base(due_at, "timer"))
        )

    def op(self, cls: type[cmd.CommandBase], at: int | None = None, **kw: Any) -> Decision:
        return self.send(cls(**self._base(at, "api:test"), **kw))  # type: ignore[arg-type]

    def events_of(self, decision: Decision | None = None) -> list[str]:
        decision = decision or self.last
        assert isinstance(decision, Accepted), decision
        return [type(e).__name__ for e in decision.events]

    def rejected(self, decision: Decision | None = None) -> Rejected:
        decision = decision or self.last
        assert isinstance(decision, Rejected), decision
        return decision
