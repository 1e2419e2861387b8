"""History entries: an event as the ``events`` table stores it, and back to a domain event.

The projector stores each event as columns (workflow_id, seq, root_workflow_id, type, at, actor)
plus ``data``: the event's own fields, rendered by projections.handlers.event_data (definitions
in Conductor JSON, enums by value, tuples as lists). That is the same rendering as the domain's
serde, so header columns + data + type are a faithful serialisation: ``event_from_stored`` gives
back the very event (a unit test checks it on every golden history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.domain import serde
from orchestrator.domain.events import Event, EventBase
from projections.handlers import event_data

JSON = Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One event of a workflow's history (what GET /history returns per event)."""

    workflow_id: str
    root_workflow_id: str
    seq: int
    type: str
    at: int
    actor: str
    data: dict[str, JSON]
    correlation_id: str | None = None  # the causing command's id (only known from the log)

    def public(self) -> dict[str, JSON]:
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "actor": self.actor,
            "data": self.data,
        }


def entry_from_row(row: Mapping[str, Any]) -> Entry:
    """An ``events`` row (a dict with its columns) as an Entry."""
    return Entry(
        workflow_id=row["workflow_id"],
        root_workflow_id=row["root_workflow_id"],
        seq=int(row["seq"]),
        type=row["type"],
        at=int(row["at"]),
        actor=row["actor"],
        data=dict(row["data"]),
    )


def entry_from_event(event: EventBase, correlation_id: str | None = None) -> Entry:
    """A domain event (read from the log) as the Entry the projector would store."""
    return Entry(
        workflow_id=event.workflow_id,
        root_workflow_id=event.root_workflow_id or event.workflow_id,
        seq=event.seq,
        type=type(event).__name__,
        at=event.at,
        actor=event.actor,
        data=event_data(event),
        correlation_id=correlation_id,
    )


def event_from_entry(entry: Entry) -> Event:
    """The domain event an Entry stores (raises KeyError for an event type this code does not
    know: a newer engine's)."""
    return serde.event_from_jsonable(
        {
            **entry.data,
            "type": entry.type,
            "workflow_id": entry.workflow_id,
            "root_workflow_id": entry.root_workflow_id,
            "seq": entry.seq,
            "at": entry.at,
            "actor": entry.actor,
        }
    )
