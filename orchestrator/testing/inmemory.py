"""An in-memory runtime that runs decide/evolve/react exactly as the stream processor does:
one command at a time, events folded into the state, effects performed (dispatch to fake
workers, commands routed back onto the queue, timers fired when the fake clock advances)."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

from orchestrator.domain import commands as cmd
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.effects import DispatchTask, Effect, EmitCommand, ScheduleTimer
from orchestrator.domain.events import Event
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Decision, Rejected
from orchestrator.domain.react import react, resume
from orchestrator.domain.state import WorkflowState
from orchestrator.testing.workers import Worker


@dataclass
class FakeClock:
    now: int = 1_700_000_000_000


@dataclass
class InMemoryRuntime:
    ctx: Context
    workers: dict[str, Worker] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=FakeClock)
    ack: bool = True  # workers acknowledge (TaskStarted) before reporting, like HTTP pollers
    # ... unless the result comes within this many ms: then the report carries started_at,
    # like the SDK's deferred acknowledgement (ADR 0007); None: always acknowledge first
    ack_after_ms: int | None = None
    states: dict[str, WorkflowState] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    rejections: list[tuple[cmd.Command, Rejected]] = field(default_factory=list)
    dispatched: list[DispatchTask] = field(default_factory=list)
    commands: list[cmd.Command] = field(default_factory=list)
    _queue: deque[cmd.Command] = field(default_factory=deque)
    _timers: list[tuple[int, int, cmd.Command]] = field(default_factory=list)
    _timer_keys: set[tuple[object, ...]] = field(default_factory=set)
    _n: int = 0

    # --- driving ----------------------------------------------------------------------------

    def submit(self, command: cmd.Command) -> Decision:
        """Decide one command now, then work off everything it caused (not timers)."""
        decision = self._process(command)
        self.run_queue()
        return decision

    def run_queue(self) -> None:
        while self._queue:
            self._process(self._queue.popleft())

    def advance(self, ms: int) -> None:
        """Move the clock, firing due timers and delayed worker replies in time order."""
        until = self.clock.now + ms
        while self._timers and self._timers[0][0] <= until:
            due, _, command = heapq.heappop(self._timers)
            self.clock.now = max(self.clock.now, due)
            self._queue.append(_at(command, self.clock.now))
            self.run_queue()
        self.clock.now = until

    def run_until_idle(self, max_ms: int = 10 * 24 * 3600 * 1000) -> None:
        """Advance to each next timer until none is left (or `max_ms` passed)."""
        deadline = self.clock.now + max_ms
        self.run_queue()
        while self._timers and self._timers[0][0] <= deadline:
            self.advance(max(0, self._timers[0][0] - self.clock.now))

    def restart(self) -> None:
        """Simulate a process restart: drop timers, re-derive everything from the states."""
        self._timers.clear()
        self._timer_keys.clear()
        for state in list(self.states.values()):
            self._perform(resume(state))
        self.run_queue()

    # --- the processor loop -----------------------------------------------------------------

    def _process(self, command: cmd.Command) -> Decision:
        self.commands.append(command)
        state = self.states.get(command.workflow_id)
        decision = decide(state, command, self.ctx)
        if isinstance(decision, Rejected):
            self.rejections.append((command, decision))
            return decision
        assert isinstance(decision, Accepted)
        effects: list[Effect] = []
        for event in decision.events:
            state = evolve(state, event)
            self.events.setdefault(command.workflow_id, []).append(event)
            effects.extend(react(state, event))
        assert state is not None
        self.states[command.workflow_id] = state
        self._perform(tuple(effects))
        return decision

    def _perform(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, EmitCommand):
                self._queue.append(effect.command)
            elif isinstance(effect, ScheduleTimer):
                self._schedule_timer(effect)
            else:
                self._dispatch(effect)

    def _schedule_timer(self, timer: ScheduleTimer) -> None:
        key = (timer.kind, timer.workflow_id, timer.task_id, timer.due_at)
        if key in self._timer_keys:
            return
        self._timer_keys.add(key)
        fired = cmd.TimerFired(
            workflow_id=timer.workflow_id,
            root_workflow_id=timer.root_workflow_id,
            at=timer.due_at,
            actor="timer",
            kind=timer.kind,
            due_at=timer.due_at,
            task_id=timer.task_id,
        )
        self._later(timer.due_at, fired)

    def _later(self, at: int, command: cmd.Command) -> None:
        self._n += 1
        heapq.heappush(self._timers, (at, self._n, command))

    def _dispatch(self, task: DispatchTask) -> None:
        self.dispatched.append(task)
        worker = self.workers.get(task.task_type)
        if worker is None:
            return
        common = {
            "workflow_id": task.workflow_instance_id,
            "root_workflow_id": task.root_workflow_id,
            "actor": f"worker:{task.task_type}",
        }
        reply = worker(task)
        deferred = (
            self.ack
            and self.ack_after_ms is not None
            and reply is not None
            and reply.after_ms < self.ack_after_ms
        )
        if self.ack and not deferred:
            self._queue.append(
                cmd.TaskStarted(at=self.clock.now, task_id=task.task_id, worker_id="w1", **common)
            )
        if reply is None:
            return
        result = cmd.ReportTaskResult(
            at=self.clock.now + reply.after_ms,
            task_id=task.task_id,
            status=reply.status,
            output=reply.output,
            reason=reply.reason,
            callback_after_seconds=reply.callback_after_seconds,
            worker_id="w1",
            started_at=self.clock.now if deferred else None,
            **common,
        )
        if reply.after_ms:
            self._later(self.clock.now + reply.after_ms, result)
        else:
            self._queue.append(result)

    # --- reading ----------------------------------------------------------------------------

    def state(self, workflow_id: str) -> WorkflowState:
        return self.states[workflow_id]


def _at(command: cmd.Command, now: int) -> cmd.Command:
    from dataclasses import replace

    return replace(command, at=now) if command.at < now else command
