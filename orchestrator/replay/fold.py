"""The audit fold: the engine's pure ``evolve``, plus what the read model keeps and the state
does not.

The state that ``evolve`` builds is exactly the engine's (no copy of its rules here). Three
facts the read model shows are not in that state, so the fold records them beside it, from the
same events:

- ``retired``: task ids cut from the current view by a restart (all tasks so far) or a rerun
  (the event's ``retired_task_ids``; in older logs the tasks scheduled at or after the rerun
  task) — the read model keeps their rows, flagged;
- ``archived``: finished DO_WHILE iterations that ``LoopIterationsRemoved`` dropped from the
  state (keepLastN) — the read model keeps their rows as they were;
- ``pruned_output``: the iteration keys that event removed from the loop task's output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.domain import events as ev
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import TaskState, WorkflowState


@dataclass(slots=True)
class Folded:
    """One workflow's state after the events applied so far."""

    workflow_id: str
    state: WorkflowState | None = None
    retired: set[str] = field(default_factory=set)
    archived: dict[str, TaskState] = field(default_factory=dict)
    pruned_output: dict[str, set[str]] = field(default_factory=dict)
    last_at: int = 0  # time of the last event
    max_at: int = 0  # largest event time (clocks of different actors may disagree)

    @property
    def seq(self) -> int:
        return 0 if self.state is None else self.state.seq

    def apply(self, event: ev.Event) -> None:
        """Fold one event (raises evolve's InvalidLog on an impossible history)."""
        if self.state is not None:
            self._track(self.state, event)
        self.state = evolve(self.state, event)
        self.last_at = event.at
        self.max_at = max(self.max_at, event.at)

    def _track(self, before: WorkflowState, event: ev.Event) -> None:
        if isinstance(event, ev.WorkflowRestarted):
            self.retired.update(before.tasks.keys())
            self.retired.update(self.archived)
        elif isinstance(event, ev.WorkflowRerun) and event.retired_listed:
            self.retired.update(event.retired_task_ids)
        elif isinstance(event, ev.WorkflowRerun):  # older logs: the seq rule
            start = before.tasks.get(event.from_task_id)
            if start is not None:  # else evolve refuses the event
                cut = start.seq
                self.retired.update(t.task_id for t in before.tasks.values() if t.seq >= cut)
                self.retired.update(t.task_id for t in self.archived.values() if t.seq >= cut)
        elif isinstance(event, ev.LoopIterationsRemoved):
            for task_id in event.removed_task_ids:
                task = before.tasks.get(task_id)
                if task is not None:
                    self.archived[task_id] = task
            if event.output_keys:
                self.pruned_output.setdefault(event.task_id, set()).update(event.output_keys)


def fold(events: Iterable[ev.Event]) -> Folded | None:
    """The fold of one workflow's events, in seq order (None for no events)."""
    folded: Folded | None = None
    for event in events:
        if folded is None:
            folded = Folded(event.workflow_id)
        folded.apply(event)
    return folded
