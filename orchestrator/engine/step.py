"""One batch of commands through the pure core, with no I/O: the processor's inner loop.

The faust agent (processor.py) decodes a batch, calls `process_batch`, produces what it returns
and only then writes the touched states to the state changelog (ADR 0003). Keeping this step free
of Kafka makes it testable on plain values and lets the in-memory runtime and the processor share
one definition of "what a command does".

Containment (issue 15): the processor passes a `check` that encodes each command's output
records and raises `Unpersistable` when one cannot be written (too large for a Kafka record,
refused by the codec). The command's outcome is then dropped before anything of it is kept, and
the workflow is failed with the reason instead (`FailWorkflow`, decided here like any command),
or a start is rejected with it. One workflow's outcome can never stop the processor.

Engine errors (issue #16): when decide, evolve or react raises (a bug, not a rule), the command
goes to the dead letters as before, AND its running workflow is failed the same way with the
reason (`engine error on <Command>: <Exception>: <message>`), so it does not wait forever for
what the command should have caused; with no running workflow the sender gets ENGINE_ERROR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.domain.commands import Command, FailWorkflow, StartWorkflow
from orchestrator.domain.context import Context
from orchestrator.domain.decide import decide
from orchestrator.domain.effects import DispatchTask, EmitCommand, ScheduleTimer
from orchestrator.domain.events import Event
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import Accepted, Rejected, RejectionCode
from orchestrator.domain.react import react
from orchestrator.domain.state import WorkflowState

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500  # of the exception text kept in the workflow's reason


class RetryBatch(Exception):
    """The batch cannot be decided now (e.g. the payload store is unreachable while a large
    payload is written): nothing of it is kept; the caller decides it again, whole, later."""


class Unpersistable(Exception):
    """A command's outcome cannot be written; `reason` says which record and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# (events with their command ids, effects) of one command -> None, or raises Unpersistable
Check = Callable[[Sequence[tuple[Event, str | None]], Sequence[object]], None]


@dataclass(frozen=True, slots=True)
class Failure:
    """A command the engine could not handle (a bug, not a rule): it goes to the dead letters
    (and its workflow fails, see `_engine_error`)."""

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
    check: Check | None = None,
) -> BatchOutput:
    """Decide, evolve and react for each (command, command id) in order; `states` is not modified.
    `check` vets each command's output records before they are kept (see the module doc)."""
    out = BatchOutput()
    for command, command_id in commands:
        wid = command.workflow_id
        state = out.states.get(wid) or states.get(wid)
        try:
            decision = decide(state, command, ctx)
            if isinstance(decision, Rejected):
                out.rejections.append((command, decision, command_id))
                continue
            step = _apply(state, decision, command_id)
            if check is not None:
                try:
                    check(step.events, step.effects)
                except Unpersistable as exc:
                    step = _contain(state, command, command_id, ctx, check, exc.reason, out)
        except RetryBatch:
            raise
        except Exception as exc:  # a bug in the core must not stop the partition
            log.exception("engine error on %s for workflow %s", type(command).__name__, wid)
            step = _engine_error(state, command, command_id, ctx, check, exc, out)
        if step is None:
            continue
        out.events.extend(step.events)
        out.add_effects(step.effects)
        if step.state is not None:
            out.states[wid] = step.state
    return out


def _engine_error(
    state: WorkflowState | None,
    command: Command,
    command_id: str | None,
    ctx: Context,
    check: Check | None,
    exc: Exception,
    out: BatchOutput,
) -> _Step | None:
    """A command the engine failed on is never lost silently: the raw command goes to the dead
    letters (for diagnosis) and its running workflow fails with the reason (`FailWorkflow`);
    with none running, a rejection (ENGINE_ERROR) tells the sender. None: nothing changes."""
    detail = str(exc)[:MAX_ERROR_CHARS]
    reason = f"engine error on {type(command).__name__}: {type(exc).__name__}: {detail}"
    out.failures.append(Failure(command, reason))
    if state is None or state.is_terminal:
        out.rejections.append((command, Rejected(RejectionCode.ENGINE_ERROR, reason), command_id))
        return None
    fail = FailWorkflow(
        workflow_id=command.workflow_id,
        root_workflow_id=command.root_workflow_id,
        at=command.at,
        actor="engine",
        reason=reason,
    )
    try:
        decision = decide(state, fail, ctx)
        if isinstance(decision, Rejected):  # pragma: no cover - state is not terminal
            return None
        step = _apply(state, decision, command_id)
        if check is not None:
            check(step.events, step.effects)
        return step
    except Exception:
        log.exception("cannot fail workflow %s after an engine error", command.workflow_id)
        return None


@dataclass(slots=True)
class _Step:
    state: WorkflowState | None
    events: list[tuple[Event, str | None]]
    effects: list[object]


def _apply(state: WorkflowState | None, decision: Accepted, command_id: str | None) -> _Step:
    events: list[tuple[Event, str | None]] = []
    effects: list[object] = []
    # decide already folded its events into its working copy; when it hands back the state
    # after each event, reuse them rather than evolving everything a second time.
    after = decision.states if len(decision.states) == len(decision.events) else None
    for i, event in enumerate(decision.events):
        state = after[i] if after is not None else evolve(state, event)
        events.append((event, command_id))
        effects.extend(react(state, event))
    return _Step(state, events, effects)


def _contain(
    state: WorkflowState | None,
    command: Command,
    command_id: str | None,
    ctx: Context,
    check: Check,
    reason: str,
    out: BatchOutput,
) -> _Step | None:
    """The command's outcome cannot be written: fail its workflow with the reason instead (a
    start, or a command on an ended workflow, is rejected with it). Raises if even that cannot
    be written (the command then goes to the dead letters)."""
    name = type(command).__name__
    log.warning("workflow %s: the outcome of %s cannot be written: %s", command.workflow_id,
                name, reason)  # fmt: skip
    if state is None or isinstance(command, StartWorkflow) or state.is_terminal:
        refusal = Rejected(RejectionCode.INVALID_REQUEST, f"{name} refused: {reason}")
        out.rejections.append((command, refusal, command_id))
        return None
    fail = FailWorkflow(
        workflow_id=command.workflow_id,
        root_workflow_id=command.root_workflow_id,
        at=command.at,
        actor="engine",
        reason=f"{name} could not be applied: {reason}",
    )
    decision = decide(state, fail, ctx)
    if isinstance(decision, Rejected):  # pragma: no cover - state is not terminal
        raise RuntimeError(f"cannot fail workflow {command.workflow_id}: {decision.reason}")
    step = _apply(state, decision, command_id)
    check(step.events, step.effects)
    return step
