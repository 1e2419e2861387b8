"""One batch of commands through the pure core, with no I/O: the processor's inner loop.

The faust agent (processor.py) decodes a batch, calls `process_batch`, produces what it returns
and only then writes the touched states to the state table (ADR 0003). Keeping this step free of
Kafka makes it testable on plain values and lets the in-memory runtime and the processor share
one definition of "what a command does".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator.domain.commands import Command
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.effects import DispatchTask, EmitCommand, ScheduleTimer
from orchestrator.domain.events import Event
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Rejected
from orchestrator.domain.react import react
from orchestrator.domain.state import WorkflowState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    """A command the engine could not handle (a bug, not a rule): it goes to the dead letters."""

    command: Command
    reason: str


@dataclass(slots=True)
class BatchOutput:
    # (event, id of the command that caused it: the header's correlation_id, for tracing)
    events: list[tuple[Event, str | None]] = field(default_factory=list)
    dispatches: list[DispatchTask] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    timers: list[ScheduleTimer] = field(default_factory=list)
    # (command, rejection, command id): the id lets the sender (the API) match its rejection
    rejections: list[tuple[Command, Rejected, str | None]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    states: dict[str, WorkflowState] = field(default_factory=dict)  # touched, new values

    def add_effects(self, effects: Iterable[object]) -> None:
        for effect in effects:
            if isinstance(effect, DispatchTask):
                self.dispatches.append(effect)
            elif isinstance(effect, EmitCommand):
                self.commands.append(effect.command)
            elif isinstance(effect, ScheduleTimer):
                self.timers.append(effect)
            else:  # pragma: no cover - the Effect union is closed
                raise TypeError(f"unknown effect {effect!r}")


def process_batch(
    states: Mapping[str, WorkflowState],
    commands: Iterable[tuple[Command, str | None]],
    ctx: Context,
) -> BatchOutput:
    """Decide, evolve and react for each (command, command id) in order; `states` is not modified."""
    out = BatchOutput()
    for command, command_id in commands:
        wid = command.workflow_id
        state = out.states.get(wid) or states.get(wid)
        try:
            decision = decide(state, command, ctx)
            if isinstance(decision, Rejected):
                out.rejections.append((command, decision, command_id))
                continue
            state = _apply(state, decision, command_id, out)
        except Exception as exc:  # a bug in the core must not stop the partition
            log.exception("engine error on %s for workflow %s", type(command).__name__, wid)
            out.failures.append(Failure(command, f"engine error: {type(exc).__name__}: {exc}"))
            continue
        if state is not None:
            out.states[wid] = state
    return out


def _apply(
    state: WorkflowState | None, decision: Accepted, command_id: str | None, out: BatchOutput
) -> WorkflowState | None:
    # Evolve and react into local lists first, so a failure half-way leaves `out` untouched.
    events: list[tuple[Event, str | None]] = []
    effects: list[object] = []
    # decide already folded its events into its working copy; when it hands back the state
    # after each event, reuse them rather than evolving everything a second time.
    after = decision.states if len(decision.states) == len(decision.events) else None
    for i, event in enumerate(decision.events):
        state = after[i] if after is not None else evolve(state, event)
        events.append((event, command_id))
        effects.extend(react(state, event))
    out.events.extend(events)
    out.add_effects(effects)
    return state
