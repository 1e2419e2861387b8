"""The processor's executions: the live ones as objects, the finished ones as bytes, for a while.

A processor decides on in-memory states (ADR 0003). Keeping every execution it ever ran made
memory and recovery grow with history (issue 15), so a finished execution stays here only for
the retention window (ORCHESTRATOR_FINISHED_RETENTION_S): long enough that late worker reports,
retries and restarts of a workflow that just ended meet it in memory. After that the processor
archives it in the state store (engine/store.py), writes a tombstone to the changelog and drops
it (engine/processor.py, `_evict`); a command for it later finds it in the store again.

- `Live`: an execution as objects (running, or finished but not yet in the changelog);
- `Packed`: a finished execution as its changelog record (one untracked bytes object: thousands
  of object graphs made the garbage collector's full passes take hundreds of ms, state G).

Not thread-safe: the processor's event loop owns it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from orchestrator.domain.state import WorkflowState
from orchestrator.engine.statecodec import RecordHead, decode_state


@dataclass(frozen=True, slots=True)
class Live:
    partition: int  # the commands partition of the workflow tree (= its changelog partition)
    state: WorkflowState

    @property
    def seq(self) -> int:
        return self.state.seq

    @property
    def terminal(self) -> bool:
        return self.state.is_terminal


@dataclass(frozen=True, slots=True)
class Packed:
    """A finished execution as its full changelog record; `state` decodes it anew."""

    partition: int
    seq: int
    record: bytes
    expires_at: int  # epoch ms after which it leaves memory
    archived: bool = False  # read back from the state store: leaving memory writes nothing

    @property
    def state(self) -> WorkflowState:
        return decode_state(self.record)

    @property
    def terminal(self) -> bool:
        return True


Entry = Live | Packed


class StateCache:
    def __init__(self, retention_ms: int) -> None:
        self.retention_ms = retention_ms
        self._entries: dict[str, Entry] = {}
        self._finished = 0
        # Finished executions to look at once their time is up: (expires_at, workflow id).
        # Stale items (reopened or re-finished executions) are checked and skipped on pop.
        self._expiry: list[tuple[int, str]] = []
        # States whose events are delivered and which the changelog does not have yet.
        self.unwritten: dict[str, Live] = {}

    # -- reading ------------------------------------------------------------------------------

    def get(self, wid: str) -> Entry | None:
        return self._entries.get(wid)

    def __contains__(self, wid: object) -> bool:
        return wid in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[str, Entry]]:
        return iter(self._entries.items())

    def view(self) -> StateView:
        return StateView(self._entries)

    def counts(self) -> tuple[int, int]:
        """(active, finished) executions held in memory."""
        return len(self._entries) - self._finished, self._finished

    # -- writing ------------------------------------------------------------------------------

    def remember(self, wid: str, partition: int, state: WorkflowState) -> Live:
        """A state the processor just decided (its changelog write follows, `written`)."""
        entry = Live(partition, state)
        self._put(wid, entry)
        if state.is_terminal:
            self._expire_at(state.ended_at + self.retention_ms, wid)
        return entry

    def written(self, wid: str, entry: Live, record: bytes) -> None:
        """`entry` went to the changelog as `record`: a finished one is kept as those bytes
        (unless a newer batch has replaced it meanwhile)."""
        if entry.terminal and self._entries.get(wid) is entry:
            expires = entry.state.ended_at + self.retention_ms
            self._put(wid, Packed(entry.partition, entry.seq, record, expires))

    def load(self, wid: str, partition: int, head: RecordHead, record: bytes | None,
             state: WorkflowState | None) -> bool:  # fmt: skip
        """An execution read back at recovery: finished ones as `record`, running ones as
        `state`. Kept only if newer than what the cache holds (a zombie never rolls back);
        returns whether it was."""
        held = self._entries.get(wid)
        if held is not None and held.seq > head.seq:
            return False
        if head.terminal and record is not None:
            expires = head.ended_at + self.retention_ms
            self._put(wid, Packed(partition, head.seq, record, expires))
            self._expire_at(expires, wid)
        elif state is not None:
            self._put(wid, Live(partition, state))
            if state.is_terminal:
                self._expire_at(state.ended_at + self.retention_ms, wid)
        else:
            return False
        return True

    def load_archived(self, wid: str, partition: int, seq: int, record: bytes, now: int) -> None:
        """A finished execution fetched from the state store for a command that names it."""
        if wid in self._entries:
            return
        expires = now + self.retention_ms
        self._put(wid, Packed(partition, seq, record, expires, archived=True))
        self._expire_at(expires, wid)

    def due(self, now: int, limit: int) -> list[tuple[str, Packed]]:
        """Finished executions whose time in memory is up, oldest first (at most `limit`).

        Only `Packed` ones: a finished state not yet in the changelog waits for its write."""
        due: list[tuple[str, Packed]] = []
        seen: set[str] = set()  # an execution that ended more than once has several items
        retry: list[tuple[int, str]] = []
        while self._expiry and self._expiry[0][0] <= now and len(due) < limit:
            _, wid = heapq.heappop(self._expiry)
            entry = self._entries.get(wid)
            if wid in seen:
                continue
            seen.add(wid)
            if isinstance(entry, Packed):
                if entry.expires_at <= now:
                    due.append((wid, entry))
                else:
                    retry.append((entry.expires_at, wid))
            elif entry is not None and entry.terminal:
                retry.append((now + 1000, wid))  # not written yet: look again in a second
        for item in retry:
            heapq.heappush(self._expiry, item)
        return due

    def retry_expiry(self, wid: str, entry: Entry, at_ms: int) -> None:
        """Look at `entry` again at `at_ms` (it could not leave memory now)."""
        if self._entries.get(wid) is entry:
            self._expire_at(at_ms, wid)

    def drop(self, wid: str, entry: Entry) -> bool:
        """Forget `entry` if it is still the one held (a batch may have reopened it)."""
        if self._entries.get(wid) is not entry:
            return False
        self._remove(wid)
        return True

    def keep_partitions(self, partitions: set[int]) -> None:
        """Forget the executions of partitions this processor no longer owns."""
        for wid in [w for w, e in self._entries.items() if e.partition not in partitions]:
            self._remove(wid)
        self.unwritten = {w: e for w, e in self.unwritten.items() if e.partition in partitions}
        self._expiry = [(t, w) for t, w in self._expiry if w in self._entries]
        heapq.heapify(self._expiry)

    def _put(self, wid: str, entry: Entry) -> None:
        held = self._entries.get(wid)
        self._finished += entry.terminal - (held.terminal if held is not None else False)
        self._entries[wid] = entry

    def _remove(self, wid: str) -> None:
        held = self._entries.pop(wid)
        self._finished -= held.terminal
        self.unwritten.pop(wid, None)

    def _expire_at(self, when: int, wid: str) -> None:
        heapq.heappush(self._expiry, (when, wid))


class StateView:
    """Read-only mapping of the cache's states for the pure core (no copy of the cache)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._entries = entries

    def get(self, key: str, default: WorkflowState | None = None) -> WorkflowState | None:
        entry = self._entries.get(key)
        return entry.state if entry is not None else default

    def __getitem__(self, key: str) -> WorkflowState:
        return self._entries[key].state

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
