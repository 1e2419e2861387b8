"""Partitions gained: their executions read back from the changelog (and the state store), then
resumed (ADR 0003).

The changelog holds the live executions and the finished ones still within their retention
(older ones are tombstoned, engine/cache.py), so what is read is proportional to the work in
flight, not to history, once the broker has compacted the topic. Finished executions stay bytes
(nothing is unpickled for them); running ones are decoded and `resume`d: their SCHEDULED tasks
dispatched again (workers are at-least-once; a duplicate report is rejected) and their timers
put back on the heap. A record that is no state of this version is dead-lettered, not fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.domain.react import resume
from orchestrator.domain.state import WorkflowState
from orchestrator.engine.cache import StateCache
from orchestrator.engine.changelog import ChangelogRead
from orchestrator.engine.statecodec import StateRecordError, decode_state
from orchestrator.engine.store import StoredState

log = logging.getLogger(__name__)

# (partition, offset, key, reason) of a record that could not be recovered
Unreadable = tuple[int, int, bytes | None, str]


@dataclass(slots=True)
class Recovered:
    running: list[tuple[int, WorkflowState]] = field(default_factory=list)
    finished: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)


def stored_ids(read: ChangelogRead) -> list[str]:
    """Executions whose newest record is a STORED marker: their state is in the state store."""
    return [w for w, f in read.executions.items() if f.head is not None and f.head.stored]


def load(
    cache: StateCache,
    read: ChangelogRead,
    stored: dict[str, StoredState],
) -> Recovered:
    """Put what `read` found (and the `stored` records its markers point to) into `cache`."""
    result = Recovered(unreadable=list(read.unreadable))
    for wid, found in read.executions.items():
        if found.head is None or found.value is None:
            continue  # tombstoned: in the state store, fetched when a command names it
        record = found.value
        if found.head.stored:
            held = stored.get(wid)
            if held is None or held.seq < found.head.seq:
                reason = f"state store has no record of seq {found.head.seq} for {wid}"
                result.unreadable.append((found.partition, -1, wid.encode(), reason))
                continue
            record = held.record
        if found.head.terminal:
            cache.load(wid, found.partition, found.head, record, None)
            result.finished += 1
            continue
        try:
            state = decode_state(record)
        except StateRecordError as exc:
            result.unreadable.append((found.partition, -1, wid.encode(), str(exc)))
            continue
        if cache.load(wid, found.partition, found.head, None, state):
            result.running.append((found.partition, state))
    return result


def resume_all(recovered: Recovered, each: Callable[[object, int], None]) -> int:
    """Call `each(effect, partition)` for every effect the running executions still owe."""
    count = 0
    for partition, state in recovered.running:
        for effect in resume(state):
            each(effect, partition)
            count += 1
    return count
