"""Read-your-writes: wait until the projector has applied what a request just caused.

The projector NOTIFYs the ids of the workflows each committed batch changed (projections/
apply.py). One LISTEN connection per API process wakes the requests waiting on those ids; each
waiter then re-reads its condition from Postgres. A lost notification (listener reconnecting)
only costs latency: waiters also re-check every ``RECHECK_S``.

The listener waits on the connection's socket (the event loop's reader): psycopg's own
``notifies()`` wakes every 0.1 s to look for an interrupt, 10 wake-ups/s of an idle API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg

from projections.apply import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RECHECK_S = 0.5


class ProjectionWatch:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="projection-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    async for payload in _notifications(conn):
                        self._wake(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect whatever went wrong; waiters poll meanwhile
                self.listening.clear()
                log.warning("projection watch: %s; reconnecting in 1 s", exc)
                await asyncio.sleep(1)

    def _wake(self, payload: str) -> None:
        try:
            ids = json.loads(payload)
        except ValueError:
            return
        for workflow_id in ids if isinstance(ids, list) else ():
            for event in self._waiters.get(workflow_id, ()):
                event.set()

    async def wait_for(
        self,
        workflow_id: str,
        condition: Callable[[], Awaitable[bool]],
        timeout_s: float,
        action: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Run ``action`` (e.g. produce a command), then wait until ``condition`` holds.

        The waiter is registered before the action, so no notification can slip between them.
        Returns False when the timeout passed first.
        """
        event = asyncio.Event()
        self._waiters[workflow_id].add(event)
        try:
            if action is not None:
                await action()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while True:
                event.clear()
                if await condition():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, RECHECK_S))
        finally:
            waiters = self._waiters.get(workflow_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[workflow_id]


async def _notifications(conn: psycopg.AsyncConnection[object]) -> AsyncIterator[str]:
    """The payloads of the notifications ``conn`` receives, read when its socket is readable;
    raises psycopg.OperationalError once the connection is lost."""
    pgconn = conn.pgconn
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    fd = pgconn.socket
    loop.add_reader(fd, readable.set)
    try:
        while True:
            while (note := pgconn.notifies()) is not None:  # already read: LISTEN's answer
                yield note.extra.decode("utf-8", "replace")
            await readable.wait()
            readable.clear()
            pgconn.consume_input()
    finally:
        loop.remove_reader(fd)
