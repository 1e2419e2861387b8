"""Finished executions leave the processor after their retention (ORCHESTRATOR_FINISHED_RETENTION_S).

Once a second, the executions whose time is up are, in this order:
1. archived in the state store (engine/store.py), awaited: from now on a command that names
   one finds it there (a late report is rejected as stale, a retry/restart/rerun works);
2. tombstoned in the changelog and dropped from memory, in one synchronous step that first
   checks each is still the entry archived: a batch that reopened one meanwhile (a restart)
   keeps it, and its new state reaches the changelog after the tombstone, so it wins.

A crash between the steps is harmless: the changelog still has the record, the next owner loads
it and archives it again (an upsert). A store that is down only postpones eviction (logged once
a minute); nothing is dropped that the store does not hold.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from orchestrator.engine.cache import Packed, StateCache
from orchestrator.engine.store import StateStore

log = logging.getLogger(__name__)

EVICT_BATCH = 5000
WARN_EVERY_S = 60.0
RETRY_MS = 5000


class Retention:
    def __init__(self, cache: StateCache, store: StateStore, changelog_topic: str) -> None:
        self.cache = cache
        self.store = store
        self.topic = changelog_topic
        self.evicted = 0
        self._warned_at = 0.0

    async def evict(self, out: Any, now_ms: int) -> int:
        """One round: up to EVICT_BATCH executions archived, tombstoned and dropped."""
        due = self.cache.due(now_ms, EVICT_BATCH)
        if not due:
            return 0
        to_store = [(w, p.partition, p.seq, p.record) for w, p in due if not p.archived]
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.put_many, to_store)
        except Exception as exc:
            self._warn(
                f"cannot archive {len(to_store)} finished executions (kept in memory): {exc}"
            )
            self._put_back(due, now_ms + RETRY_MS)
            return 0
        tombstones = []
        for wid, packed in due:
            if self.cache.drop(wid, packed) and not packed.archived:
                tombstones.append((self.topic, wid.encode(), None, packed.partition))
        self.evicted += len(due)
        if tombstones:
            try:
                await out.send_all(tombstones)
            except Exception as exc:  # the records stay: the next owner archives them again
                self._warn(f"tombstones not written ({exc}); harmless, they are retried later")
        return len(due)

    def _put_back(self, due: list[tuple[str, Packed]], at_ms: int) -> None:
        """Try these again later (the store was unavailable)."""
        for wid, packed in due:
            self.cache.retry_expiry(wid, packed, at_ms)

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("retention: %s", message)
