"""The queues page in real Chromium: pending tasks per task type, and the workers seen (the
HTTP poll bridge's consumer in the group, the worker id that took a task)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import eventually, register, start_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

PACK = {
    "name": "ui_packing",
    "version": 1,
    "tasks": [{"name": "ui_pack", "taskReferenceName": "pack", "type": "SIMPLE"}],
}


def test_shows_pending_tasks_and_the_worker_that_polled(
    page: Page, api: httpx.Client, screenshots: Path
) -> None:
    assert (
        api.post(
            "/api/metadata/taskdefs", json=[{"name": "ui_idle"}, {"name": "ui_pack"}]
        ).status_code
        == 200
    )
    register(api, PACK)
    for n in range(3):
        start_workflow(api, "ui_packing", {"n": n})

    page.goto("/queues")
    pack = page.locator('#queues tr[data-task-type="ui_pack"]')
    expect(pack.locator("td.pending")).to_have_text("3")  # auto-refresh picks it up
    expect(page.locator('#queues tr[data-task-type="ui_idle"] td.pending')).to_have_text("0")
    expect(pack).to_contain_text("none")  # nobody polled yet

    def poll() -> bool:
        got = api.get("/api/tasks/poll/ui_pack", params={"workerid": "ui-worker-1"})
        return got.status_code == 200 and bool(got.content)

    eventually(poll, "a task handed out to an HTTP poller")
    expect(pack.locator('[data-worker="ui-worker-1"]')).to_contain_text("1 task")
    expect(pack).to_contain_text("HTTP poll bridge")
    expect(pack.locator("td.pending")).to_have_text("2")
    page.screenshot(path=str(screenshots / "queues.png"), full_page=True)
