"""The queues page in real Chromium: pending tasks per task type and queue (the default one and
each task domain's), the pollers each queue has, the workers seen, and the task gate's held
tasks of a concurrency-limited type (a real ``orchestrator gate`` process, ADR 0006)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import UiStack, eventually, register, start_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def one_task(workflow: str, task_type: str) -> dict[str, Any]:
    return {
        "name": workflow,
        "version": 1,
        "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}],
    }


def register_task_defs(api: httpx.Client, *defs: dict[str, Any]) -> None:
    assert api.post("/api/metadata/taskdefs", json=list(defs)).status_code == 200
    paths = [f"/api/metadata/taskdefs/{d['name']}" for d in defs]
    # The projector has read them from the definitions topic, which the processor follows too
    # (its registry is what routes a limited type's tasks to the gate).
    eventually(lambda: all(api.get(p).status_code == 200 for p in paths), f"{paths} readable")


@contextmanager
def polling(api: httpx.Client, task_type: str, domain: str, worker_id: str) -> Iterator[None]:
    """An HTTP worker long-polling a queue meanwhile, as an SDK worker does (it stays active)."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=api.base_url, headers=api.headers, timeout=30) as client:
            while not stop.is_set():
                params: dict[str, str | int] = {
                    "workerid": worker_id,
                    "domain": domain,
                    "count": 1,
                    "timeout": 1000,
                }
                client.get(f"/api/tasks/poll/batch/{task_type}", params=params)
                stop.wait(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def queues_of(api: httpx.Client, task_type: str) -> dict[str, Any]:
    """The /api/ui/queues entry of one task type."""
    types: list[dict[str, Any]] = api.get("/api/ui/queues").json()["types"]
    (found,) = [t for t in types if t["taskType"] == task_type]
    return found


def queue_row(page: Page, task_type: str, domain: str = "") -> Any:
    return page.locator(f'#queues tr[data-task-type="{task_type}"][data-domain="{domain}"]')


def test_shows_pending_tasks_and_the_worker_that_polled(
    page: Page, api: httpx.Client, screenshots: Path
) -> None:
    register_task_defs(api, {"name": "ui_idle"}, {"name": "ui_pack"})
    register(api, one_task("ui_packing", "ui_pack"))
    for n in range(3):
        start_workflow(api, "ui_packing", {"n": n})

    page.goto("/queues")
    pack = queue_row(page, "ui_pack")
    expect(pack.locator("td.pending")).to_have_text("3")  # auto-refresh picks it up
    expect(queue_row(page, "ui_idle").locator("td.pending")).to_have_text("0")
    expect(pack).to_contain_text("none")  # nobody polled yet

    def poll() -> bool:
        got = api.get("/api/tasks/poll/ui_pack", params={"workerid": "ui-worker-1"})
        return got.status_code == 200 and bool(got.content)

    eventually(poll, "a task handed out to an HTTP poller")
    expect(pack.locator('[data-worker="ui-worker-1"]')).to_contain_text("1 task")
    expect(pack).to_contain_text("HTTP poll bridge")
    expect(pack.locator("td.pending")).to_have_text("2")
    # The HTTP poll announced itself on the presence topic: a poller of the default queue.
    expect(pack.locator('[data-poller="ui-worker-1"]')).to_contain_text("last poll")
    packing = queues_of(api, "ui_pack")
    assert [(q["domain"], [p["workerId"] for p in q["pollers"]]) for q in packing["queues"]] == [
        (None, ["ui-worker-1"])
    ]
    page.screenshot(path=str(screenshots / "queues.png"), full_page=True)


def test_a_domain_poller_shows_under_its_domain(
    page: Page, api: httpx.Client, base_url: str
) -> None:
    register_task_defs(api, {"name": "ui_resize"})
    page.goto("/queues")
    blue = queue_row(page, "ui_resize", "blue")
    with polling(api, "ui_resize", "blue", "blue-1"):
        expect(blue.locator("td").first).to_contain_text("blue")
        expect(blue.locator('[data-poller="blue-1"]')).to_contain_text("last poll")
        expect(blue.locator("[data-active-pollers]")).to_have_text("1 active")
        expect(blue.locator("td.pending")).to_have_text("0")
    default = queue_row(page, "ui_resize")  # the default queue is listed apart, without it
    expect(default).to_be_visible()
    expect(default.locator("[data-poller]")).to_have_count(0)
    resize = queues_of(api, "ui_resize")
    assert [q["domain"] for q in resize["queues"]] == [None, "blue"]
    assert resize["gate"] is None  # no limits: not gated


def test_a_type_over_its_concurrency_limit_shows_its_held_tasks(
    page: Page, api: httpx.Client, ui_stack: UiStack, screenshots: Path
) -> None:
    gate = ui_stack.start("gate", "gate")
    log = ui_stack.rt.log_dir / "gate.log"
    eventually(lambda: b"gate assigned" in log.read_bytes(), "the gate to own its partitions")
    assert gate.poll() is None, f"the gate exited; see {log}"
    register_task_defs(api, {"name": "ui_limited", "concurrentExecLimit": 1})
    register(api, one_task("ui_limiting", "ui_limited"))
    for n in range(5):
        start_workflow(api, "ui_limiting", {"n": n})

    # One task is out (released to the topic, no worker yet); the other four wait in the gate.
    page.goto("/queues")
    limited = queue_row(page, "ui_limited")
    badge = limited.locator(".gate-held")
    expect(badge).to_have_text("held by concurrency limit 1: 4 waiting")
    expect(badge).to_have_attribute("data-held", "4")
    expect(limited.locator(".gate-figures")).to_contain_text("in flight 1 / 1")
    expect(limited.locator("td.pending")).to_have_text("1")
    gate_status = queues_of(api, "ui_limited")["gate"]
    assert (gate_status["held"], gate_status["inFlight"], gate_status["stale"]) == (4, 1, False)
    page.screenshot(path=str(screenshots / "queues-held.png"), full_page=True)

    # A worker takes the one task and completes it: the gate releases the next one.
    def take() -> dict[str, Any] | None:
        got = api.get("/api/tasks/poll/ui_limited", params={"workerid": "ui-limited-1"})
        return got.json() if got.status_code == 200 and got.content else None

    task = eventually(take, "the released task handed out")
    done = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"]}
    assert api.post("/api/tasks", json={**done, "status": "COMPLETED"}).status_code == 200
    expect(badge).to_have_text("held by concurrency limit 1: 3 waiting")
