"""The API's read-your-writes listener (api/freshness.py) against the real Postgres: a waiter
wakes on the projector's notification, not on its periodic re-check, and the listener comes
back after its connection is killed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import psycopg
import pytest

from orchestrator.api.freshness import RECHECK_S, ProjectionWatch
from projections.apply import NOTIFY_CHANNEL
from tests import readmodel_support as support

pytestmark = [pytest.mark.postgres]


def notify(url: str, *ids: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, json.dumps(list(ids))))


async def woken_after(watch: ProjectionWatch, url: str, wid: str) -> float:
    """Seconds from the notification to the waiter's condition being met."""
    done = False
    notified_at = 0.0

    async def condition() -> bool:
        return done

    async def notify_later() -> None:
        nonlocal done, notified_at
        await asyncio.sleep(0.05)  # the waiter is in its wait
        done = True
        notified_at = time.monotonic()
        await asyncio.to_thread(notify, url, "someone-else", wid)

    task = asyncio.ensure_future(notify_later())
    assert await watch.wait_for(wid, condition, 10.0)
    await task
    return time.monotonic() - notified_at


async def listening(watch: ProjectionWatch) -> None:
    await asyncio.wait_for(watch.listening.wait(), 10)


def test_a_waiter_wakes_on_its_notification_and_again_after_a_reconnect() -> None:
    base = support.database_url()
    wid = f"wf-watch-{uuid.uuid4().hex[:8]}"
    name = f"it-{wid}"  # the listener's session, told apart from other APIs' on this database
    url = psycopg.conninfo.make_conninfo(base, application_name=name)

    async def run() -> list[float]:
        watch = ProjectionWatch(url)
        await watch.start()
        try:
            await listening(watch)
            took = [await woken_after(watch, url, wid) for _ in range(3)]
            with psycopg.connect(url, autocommit=True) as conn:  # kill the listener's session
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND query = %s",
                    (name, f"LISTEN {NOTIFY_CHANNEL}"),
                )
            for _ in range(100):  # noticed, then reconnected (after 1 s)
                if not watch.listening.is_set():
                    break
                await asyncio.sleep(0.05)
            assert not watch.listening.is_set(), "the killed session went unnoticed"
            await listening(watch)
            took.append(await woken_after(watch, url, wid))
            return took
        finally:
            await watch.stop()

    took = asyncio.run(run())
    # a waiter that missed the notification would wait for its re-check (RECHECK_S)
    assert max(took) < RECHECK_S * 0.8, took
