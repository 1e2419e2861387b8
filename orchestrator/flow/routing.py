"""Where the processor sends a dispatch: the task gate or the task topic; and the gate's notices.

A task definition with a rate limit or a concurrency limit (or every type, with
ORCHESTRATOR_FLOW_GATE_ALL) is *gated*: its dispatches go to the gate topic, keyed by the task
definition name, so exactly one gate process owns each name (ADR 0006); the processor also tells
the gate when such a task starts (TaskPickedUp) and ends (a terminal task event). Other
dispatches go straight to their task topic, in the domain that FC-2's rule resolves
(orchestrator.flow.domains) from who is polling (orchestrator.flow.presence).

The limits are read from the definition registry first (so a changed limit applies to tasks
already scheduled) and from the dispatch's own fields (the task definition embedded when the
task was scheduled) when the registry has no definition of that name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.flow.domains import route_domain
from orchestrator.flow.gate_state import Limits
from orchestrator.flow.presence import PresenceView
from orchestrator.flow.records import Kind, encode_control
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.topics import TopicNames, gate_topic_specs

log = logging.getLogger(__name__)

Record = tuple[str, bytes, bytes]  # (topic, key, value)
Queue = tuple[str, str | None]  # (task type, domain): one task topic
_ENDS = (ev.TaskCompleted, ev.TaskFailed, ev.TaskCompletedWithErrors, ev.TaskCanceled)
PRESENCE_START_S = 30.0
PRESENCE_RETRY_S = 10.0


def limits_of_def(td: TaskDef) -> Limits:
    return Limits.of(
        td.rate_limit_per_frequency, td.rate_limit_frequency_in_seconds, td.concurrent_exec_limit
    )


def limits_of_dispatch(d: DispatchTask) -> Limits:
    return Limits.of(
        d.rate_limit_per_frequency, d.rate_limit_frequency_in_seconds, d.concurrent_exec_limit
    )


def current_limits(registry: Any, name: str, embedded: Limits) -> Limits:
    """The registered definition's limits (live), else those the task was scheduled with."""
    td = registry.task_def(name)
    return limits_of_def(td) if td is not None else embedded


def resolve_queue(dispatch: DispatchTask, presence: PresenceView | None) -> DispatchTask:
    """The dispatch with its taskToDomain value replaced by the domain it goes to now."""
    active = presence.active if presence is not None else _nobody_active
    domain = route_domain(dispatch.domain, dispatch.task_type, active)
    return dispatch if domain == dispatch.domain else replace(dispatch, domain=domain)


def _nobody_active(_task_type: str, _domain: str | None) -> bool:
    return False


class DispatchRouter:
    """The processor's routing of dispatches (see the module docstring)."""

    def __init__(
        self,
        settings: Any,
        topics: TopicNames,
        registry: Any,
        presence: PresenceView | None = None,
        *,
        ensure_gate: Callable[[], None] | None = None,
    ) -> None:
        self.topics = topics
        self.registry = registry
        self.gate_all: bool = settings.flow_gate_all
        self._settings = settings
        self._presence = presence
        self._presence_ready = presence is not None
        self._presence_retry_at = 0.0
        self._ensure_gate = ensure_gate or self._create_gate_topics
        self._gate_topics_ready = False
        self._plan: dict[str, Record] = {}

    def gated(self, name: str, embedded: TaskDef | DispatchTask) -> bool:
        """Does ``name`` go through the gate: its registered definition's limits (live), else
        those ``embedded`` (the task's own definition or dispatch) carries. Runs for every
        dispatch and task end: no Limits built."""
        if self.gate_all:
            return True
        source = self.registry.task_def(name) or embedded
        return (source.rate_limit_per_frequency or 0) > 0 or (source.concurrent_exec_limit or 0) > 0

    async def prepare(
        self,
        dispatches: Iterable[DispatchTask],
        encode: Callable[[DispatchTask], bytes] = wire.encode_dispatch,
    ) -> set[Queue]:
        """Decide each dispatch's record once; returns the task topics they need to exist.
        ``encode``: the processor passes the bytes its record check already encoded."""
        queues: set[Queue] = set()
        for d in dispatches:
            if self.gated(d.task_def_name, d):
                await self._ensure_gate_topics()
                # The gate resolves the domain when it releases the task.
                record = (self.topics.gate, d.task_def_name.encode(), encode(d))
            else:
                if d.domain:
                    await self._start_presence()
                resolved = resolve_queue(d, self._presence)
                queues.add((resolved.task_type, resolved.domain))
                record = (
                    self.topics.task(resolved.task_type, resolved.domain),
                    d.task_id.encode(),
                    encode(resolved),
                )
            self._plan[d.task_id] = record
        return queues

    def route(self, dispatch: DispatchTask) -> Record:
        """The record for a dispatch that went through `prepare`."""
        record = self._plan.pop(dispatch.task_id, None)
        if record is None:  # pragma: no cover - _produce always prepares first
            raise RuntimeError(f"dispatch of task {dispatch.task_id} was not prepared")
        return record

    def notices(
        self,
        events: Iterable[tuple[ev.Event, Any]],
        fresh: Mapping[str, WorkflowState],
        cache: Mapping[str, Any],
    ) -> list[Record]:
        """Started / ended notices for the gated tasks among a batch's events.

        ``fresh``: the batch's touched states; ``cache``: the processor's entries before the
        batch (a task removed from the state in the same batch is still found there).
        """
        records: list[Record] = []
        for event, _ in events:
            notice = _notice_of(event)
            if notice is None:
                continue
            task = _task(event.workflow_id, notice[1], fresh, cache)
            if task is None or not task.dispatched:
                continue
            if self.gated(task.name, task.task_def):
                value = encode_control(*notice)
                records.append((self.topics.gate, task.name.encode(), value))
        return records

    async def _ensure_gate_topics(self) -> None:
        if self._gate_topics_ready:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._ensure_gate)
        self._gate_topics_ready = True

    def _create_gate_topics(self) -> None:
        specs = gate_topic_specs(self._settings)
        report = ensure_topics(self._settings, specs, 15.0)
        if not report.ok:
            raise RuntimeError(f"cannot create the gate topics: {report.errors}")

    async def _start_presence(self) -> None:
        """Start the presence view on first use (it reads a topic to its end: not on the loop)."""
        if self._presence_ready or time.monotonic() < self._presence_retry_at:
            return
        view = PresenceView.from_settings(self._settings)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, view.start, PRESENCE_START_S)
        except Exception:  # e.g. a just-created topic without a leader yet: try again later
            log.exception("presence view did not start; domains resolve as if nobody polled")
            view.stop()
            self._presence_retry_at = time.monotonic() + PRESENCE_RETRY_S
            return
        self._presence = view
        self._presence_ready = True


def _notice_of(event: ev.Event) -> tuple[Kind, str, int, int | None] | None:
    """(kind, task id, at, start) of the gate notice an event makes, if any. A hand-out time
    travels with it: the acknowledgement's time, or the ``started_at`` of a task reported
    without one (ADR 0007), so the gate counts the rate where workers took the tasks."""
    if isinstance(event, ev.TaskPickedUp):
        return Kind.STARTED, event.task_id, event.at, None
    if isinstance(event, ev.TaskProgressed) and event.started_at is not None:
        return Kind.STARTED, event.task_id, event.started_at, None
    if isinstance(event, _ENDS):
        return Kind.ENDED, event.task_id, event.at, getattr(event, "started_at", None)
    return None


def _task(
    wid: str, task_id: str, fresh: Mapping[str, WorkflowState], cache: Mapping[str, Any]
) -> TaskState | None:
    state = fresh.get(wid)
    task = state.tasks.get(task_id) if state is not None else None
    if task is None:
        entry = cache.get(wid)
        old = getattr(entry, "state", None)
        task = old.tasks.get(task_id) if old is not None else None
    return task
