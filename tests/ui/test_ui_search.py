"""The executions search page in real Chromium: filters, sorting, paging and bulk actions.

The module's stack holds a mix of executions (COMPLETED, FAILED, RUNNING, PAUSED, TERMINATED)
of three workflows; each filter's answer on the page is compared with what the API answers
for the same search, so the test checks the mapping of the form to the query grammar.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import (
    CALC,
    register,
    showcase,
    start_workflow,
    wait_indexed,
    wait_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

ORDERS = {"name": "ui_orders", "version": 1, "tasks": [CALC]}
APPROVAL = {
    "name": "ui_approval",
    "version": 1,
    "tasks": [
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {**CALC, "taskReferenceName": "after"},
    ],
}
ROWS = "#results tbody tr"
DASH = "\u2013"  # the en dash of the pager's range (1-10 of 19)


class Seeded:
    """Ids by role, and the start-time boundary between the two seeding batches."""

    def __init__(self) -> None:
        self.completed: list[str] = []
        self.failed: list[str] = []
        self.running: list[str] = []
        self.paused = ""
        self.terminated = ""
        self.late: list[str] = []
        self.boundary_ms = 0


@pytest.fixture(scope="module")
def seeded(api: httpx.Client) -> Seeded:
    register(api, ORDERS, APPROVAL, showcase())
    s = Seeded()
    for i in range(8):  # interleaved, so the newest page shows every status
        customer = "bob" if i % 3 == 0 else "alice"
        s.completed.append(
            start_workflow(api, "ui_orders", {"n": i, "customer": customer}, f"order-{i}")
        )
        if i % 2 == 0:
            s.failed.append(start_workflow(api, "ui_orders", {"n": i, "fail": True}, f"bad-{i}"))
        if i % 2 == 1:
            s.running.append(start_workflow(api, "ui_approval", {"n": i}, f"approval-{i}"))
    s.paused, s.terminated = s.running[0], s.running[1]
    assert api.put(f"/api/workflow/{s.paused}/pause").status_code in (200, 202, 204)
    assert api.delete(f"/api/workflow/{s.terminated}", params={"reason": "test"}).status_code in (
        200,
        202,
        204,
    )
    s.running = s.running[2:]
    time.sleep(1.2)  # the boundary falls strictly between the two batches (second precision)
    s.boundary_ms = math.ceil(time.time()) * 1000
    time.sleep(1.2)
    s.late = [start_workflow(api, "ui_showcase", {"n": n, "kind": "big"}) for n in range(3)]
    for wid in s.completed + s.late:
        wait_status(api, wid, "COMPLETED")
    for wid in s.failed:
        wait_status(api, wid, "FAILED")
    wait_status(api, s.paused, "PAUSED")
    wait_status(api, s.terminated, "TERMINATED")
    wait_indexed(api, "status IN (RUNNING, PAUSED, COMPLETED, FAILED, TERMINATED)", total(s))
    return s


def total(s: Seeded) -> int:
    return len(s.completed) + len(s.failed) + len(s.running) + 2 + len(s.late)


def api_ids(api: httpx.Client, **params: Any) -> list[str]:
    got = api.get("/api/workflow/search", params={"size": 1000, **params}).json()
    return [r["workflowId"] for r in got["results"]]


def shown_ids(page: Page) -> list[str]:
    return page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.workflowId)")


def search(page: Page) -> None:
    page.get_by_role("button", name="Search", exact=True).click()


def test_search_page_shows_every_status_with_its_colour(
    page: Page, seeded: Seeded, screenshots: Path
) -> None:
    page.goto("/")
    for status in ("COMPLETED", "FAILED", "RUNNING", "PAUSED", "TERMINATED"):
        page.locator(f"input[name=status][value={status}]").check()
    search(page)
    expect(page.locator(ROWS)).to_have_count(min(25, total(seeded)))
    expect(page.locator("#hits")).to_have_text(f"{total(seeded)} executions")
    badges = page.locator(f"{ROWS} .badge")
    for status, group in [("COMPLETED", "completed"), ("FAILED", "failed"), ("RUNNING", "running")]:
        expect(badges.filter(has_text=re.compile(f"^{status}$")).first).to_have_class(
            re.compile(f"status-{group}")
        )
    # The newest rows (default sort: start time, newest first) are the late showcase runs.
    assert shown_ids(page)[:3] == list(reversed(seeded.late))
    shot = screenshots / "search.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"search page screenshot: {shot}")


def test_filters_by_workflow_name(page: Page, seeded: Seeded) -> None:
    page.goto("/")
    page.get_by_label("Workflow name").fill("ui_approval")
    search(page)
    expect(page).to_have_url(re.compile(r"name=ui_approval"))
    expect(page.locator(ROWS)).to_have_count(len(seeded.running) + 2)
    assert set(page.locator(f"{ROWS} .wf-name").all_text_contents()) == {"ui_approval"}


def test_filters_by_status(page: Page, seeded: Seeded) -> None:
    page.goto("/")
    page.locator("input[name=status][value=FAILED]").check()
    search(page)
    expect(page.locator(ROWS)).to_have_count(len(seeded.failed))
    assert set(shown_ids(page)) == set(seeded.failed)
    expect(page.locator("#query-preview")).to_have_text("query: status IN (FAILED)")


def test_free_text_and_correlation_id_match_the_api(
    page: Page, api: httpx.Client, seeded: Seeded
) -> None:
    page.goto("/")
    page.get_by_label("Free text").fill("bob")
    search(page)
    expected = api_ids(api, freeText="bob")
    assert len(expected) == 3  # customers 0, 3, 6
    expect(page.locator(ROWS)).to_have_count(len(expected))
    assert shown_ids(page) == expected
    page.get_by_label("Free text").fill("")
    page.get_by_label("Correlation ID").fill("order-5")
    search(page)
    expect(page.locator(ROWS)).to_have_count(1)
    assert shown_ids(page) == [seeded.completed[5]]


def test_start_time_range_splits_the_two_batches(page: Page, seeded: Seeded) -> None:
    boundary = page.evaluate(
        """ms => { const d = new Date(ms), p = n => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
               `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; }""",
        seeded.boundary_ms,
    )
    page.goto("/")
    page.get_by_label("Started after").fill(boundary)
    search(page)
    expect(page.locator(ROWS)).to_have_count(len(seeded.late))
    assert set(shown_ids(page)) == set(seeded.late)
    page.get_by_label("Started after").fill("")
    page.get_by_label("Started before").fill(boundary)
    search(page)
    expect(page.locator("#hits")).to_have_text(f"{total(seeded) - len(seeded.late)} executions")


def test_invalid_query_shows_the_servers_message(page: Page, seeded: Seeded) -> None:
    page.goto("/")
    page.get_by_label("Query").fill("status = NOPE")
    search(page)
    expect(page.locator("#search-error")).to_contain_text("Search failed")
    expect(page.locator("#search-error")).to_contain_text("NOPE")


def test_sorts_by_a_column_both_ways(page: Page, api: httpx.Client, seeded: Seeded) -> None:
    page.goto("/?size=100")
    expect(page.locator(ROWS)).to_have_count(total(seeded))
    header = page.locator("th[data-sort=workflowType]")
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert shown_ids(page) == api_ids(api, sort="workflowType:ASC")
    names = page.locator(f"{ROWS} .wf-name").all_text_contents()
    assert names == sorted(names)
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert shown_ids(page) == api_ids(api, sort="workflowType:DESC")
    expect(page).to_have_url(re.compile(r"sort=workflowType%3ADESC"))


def test_pages_through_the_results(page: Page, api: httpx.Client, seeded: Seeded) -> None:
    every = api_ids(api)
    page.goto("/")
    assert len(every) > 10
    page.get_by_label("Rows per page").select_option("10")
    expect(page.locator("#page-range")).to_have_text(f"1{DASH}10 of {len(every)}")
    assert shown_ids(page) == every[:10]
    page.get_by_role("button", name=re.compile(r"^Next")).click()
    expect(page.locator("#page-range")).to_have_text(
        f"11{DASH}{min(20, len(every))} of {len(every)}"
    )
    assert shown_ids(page) == every[10:20]
    expect(page).to_have_url(re.compile(r"start=10"))
    page.go_back()  # the page is in the URL: back returns to the first one
    expect(page.locator("#page-range")).to_have_text(f"1{DASH}10 of {len(every)}")


def select(page: Page, *ids: str) -> None:
    for wid in ids:
        page.locator(f'{ROWS}[data-workflow-id="{wid}"] input[type=checkbox]').check()


def test_bulk_pause_resume_and_terminate_report_each_failure(
    page: Page, api: httpx.Client, seeded: Seeded
) -> None:
    first, second = seeded.running[:2]
    done = seeded.completed[0]
    page.goto("/?size=100")
    select(page, first, second, done)
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.locator("button[data-action=pause]").click()
    result = page.locator("#bulk-result")
    expect(result).to_contain_text("Pause: 2 accepted, 1 failed")
    expect(result.locator(f'li[data-workflow-id="{done}"]')).to_contain_text("COMPLETED")
    assert [wait_status(api, w, "PAUSED")["status"] for w in (first, second)] == ["PAUSED"] * 2
    expect(page.locator(f'{ROWS}[data-workflow-id="{first}"] .badge')).to_have_text("PAUSED")

    expect(page.locator("#selected-count")).to_have_text("1 selected")  # the failed one stays
    page.get_by_role("button", name="Clear selection").click()
    select(page, first, second)
    page.locator("button[data-action=resume]").click()
    expect(result).to_contain_text("Resume: 2 accepted")
    wait_status(api, first, "RUNNING")

    select(page, second)
    page.locator("button[data-action=terminate]").click()
    confirm = page.locator("#terminate-confirm")
    confirm.get_by_placeholder("Reason (optional)").fill("cleaning up")
    confirm.get_by_role("button", name="Terminate").click()
    expect(result).to_contain_text("Terminate: 1 accepted")
    ended = wait_status(api, second, "TERMINATED")
    assert "cleaning up" in ended.get("reasonForIncompletion", "")


def test_bulk_retry_runs_the_failed_task_again(
    page: Page, api: httpx.Client, seeded: Seeded
) -> None:
    target = seeded.failed[0]
    page.goto("/?status=FAILED")
    select(page, target)
    page.locator("button[data-action=retry]").click()
    expect(page.locator("#bulk-result")).to_contain_text("Retry: 1 accepted")

    def attempts() -> int:
        run = api.get(f"/api/workflow/{target}", params={"includeTasks": True}).json()
        return sum(t["referenceTaskName"] == "calc" for t in run["tasks"])

    deadline = time.monotonic() + 60
    while attempts() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert attempts() == 2
    wait_status(api, target, "FAILED")  # the same input fails again, as a second attempt


def test_serves_every_page_and_nothing_outside_the_ui_folder(api: httpx.Client) -> None:
    for path in ("/", "/execution/x", "/definitions", "/definitions/workflow/x", "/queues"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
    script = api.get("/ui/js/common.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "export function statusBadge" in script.text
    for sneaky in ("/ui/..%2Fapp.py", "/ui/%2E%2E/routes_ui.py", "/ui/js/nope.js"):
        response = api.get(sneaky)
        assert response.status_code == 404, sneaky
        assert response.json()["status"] == 404
