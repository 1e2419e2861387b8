"""process_batch reuses the per-event states decide kept, and evolves itself when it kept none."""

from orchestrator.domain import commands as cmd
from orchestrator.domain.evolve import evolve
from orchestrator.domain.fastcopy import replace
from orchestrator.domain.outcome import Accepted
from orchestrator.engine import step
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context

CTX = dict_context([workflow("w", task("a"), task("b"))], [])
START = cmd.StartWorkflow(workflow_id="wf-1", at=T0, actor="test", name="w", version=1)


def fold(events):
    states, state = [], None
    for event in events:
        state = evolve(state, event)
        states.append(state)
    return states


def test_without_kept_states_the_batch_evolves_the_events(monkeypatch):
    decision = step.decide(None, START, CTX)
    bare = Accepted(decision.events)
    monkeypatch.setattr(step, "decide", lambda state, command, ctx: bare)
    out = step.process_batch({}, [(START, "c-1")], CTX)
    assert out.states["wf-1"] == fold(decision.events)[-1]
    assert [e for e, _ in out.events] == list(decision.events)


def test_kept_states_are_used_instead_of_evolving_again(monkeypatch):
    decision = step.decide(None, START, CTX)
    # Marked copies: if process_batch evolved again it could not produce them.
    kept = tuple(replace(s, reason=f"kept-{i}") for i, s in enumerate(fold(decision.events)))
    monkeypatch.setattr(step, "decide", lambda state, command, ctx: Accepted(decision.events, kept))
    out = step.process_batch({}, [(START, "c-1")], CTX)
    assert out.states["wf-1"] is kept[-1]
    assert len(out.dispatches) == 1  # react still ran, on the kept states


def test_kept_states_do_not_change_equality_of_decisions():
    decision = step.decide(None, START, CTX)
    assert Accepted(decision.events, tuple(fold(decision.events))) == Accepted(decision.events)
