"""The execution view of executions with 1,000 tasks: how long it takes to show, and what.

Two shapes: a DO_WHILE of 334 iterations x 3 tasks (the diagram shows one iteration, with a
picker) and a dynamic fork of 1,000 tasks (a grid of 1,000 tiles). The render time is printed
(run with -s), not asserted: the machine is shared and a tight bound would be flaky. Measured
figures are recorded in docs/ui.md.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import eventually, inline, register, start_workflow

pytestmark = [pytest.mark.e2e]

ITERATIONS = 334
FANOUT = 1000

BIG_LOOP = {
    "name": "ui_scale_loop",
    "version": 1,
    "tasks": [
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": f"$.loop['iteration'] < {ITERATIONS}",
            "loopOver": [inline("a", "1"), inline("b", "2"), inline("c", "3")],
        }
    ],
}
PLAN = """
(function () {
  var tasks = [], inputs = {};
  for (var i = 0; i < $.n; i++) {
    tasks.push({name: 'work', taskReferenceName: 'work' + i, type: 'INLINE'});
    inputs['work' + i] = {evaluatorType: 'javascript', expression: '1'};
  }
  return {tasks: tasks, inputs: inputs};
})()
"""
BIG_FORK = {
    "name": "ui_scale_fork",
    "version": 1,
    "tasks": [
        inline("plan", PLAN, n="${workflow.input.n}"),
        {
            "name": "fanout",
            "taskReferenceName": "fanout",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {
                "tasks": "${plan.output.result.tasks}",
                "inputs": "${plan.output.result.inputs}",
            },
            "dynamicForkTasksParam": "tasks",
            "dynamicForkTasksInputParamName": "inputs",
        },
        {"name": "gather", "taskReferenceName": "gather", "type": "JOIN"},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def definitions(api: httpx.Client) -> None:
    register(api, BIG_LOOP, BIG_FORK)


def completed(api: httpx.Client, wid: str, tasks: int) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        got: dict[str, Any] = api.get(f"/api/workflow/{wid}").json()
        return got if got["status"] == "COMPLETED" else None

    workflow = eventually(probe, f"{wid} to complete its {tasks} tasks", timeout_s=240)
    assert len(workflow["tasks"]) >= tasks
    return workflow


def open_and_time(page: Page, wid: str, ready: str) -> tuple[float, int]:
    """(seconds from goto to `ready` visible, ms from navigation start to the first render)."""
    started = time.perf_counter()
    page.goto(f"/execution/{wid}")
    page.locator(ready).first.wait_for(state="visible")
    seconds = time.perf_counter() - started
    expect(page.locator("#app")).to_have_attribute("data-rendered-ms", re.compile(r"^\d+$"))
    return seconds, int(page.locator("#app").get_attribute("data-rendered-ms") or 0)


def test_a_loop_of_1000_tasks_renders_one_iteration_with_a_picker(
    page: Page, api: httpx.Client
) -> None:
    wid = start_workflow(api, "ui_scale_loop", {})
    completed(api, wid, ITERATIONS * 3 + 1)
    seconds, in_page_ms = open_and_time(page, wid, '#diagram .dg-node[data-ref="c"]')
    print(
        f"\n1,000-task loop ({ITERATIONS}x3): diagram visible {seconds:.2f} s after goto; first render {in_page_ms} ms after navigation start"
    )

    expect(page.locator('#diagram .dg-loop[data-loop="loop"] .dg-iter')).to_have_text(
        f"iteration {ITERATIONS} of {ITERATIONS}"
    )
    expect(page.locator("#diagram .dg-node.st-completed")).to_have_count(4)  # loop head + a, b, c
    page.locator('#diagram [aria-label="First iteration"]').click()
    expect(page.locator('#diagram .dg-loop[data-loop="loop"] .dg-iter')).to_have_text(
        f"iteration 1 of {ITERATIONS}"
    )

    started = time.perf_counter()
    page.locator('.exec-tabs [data-tab="timeline"]').click()
    expect(page.locator("#timeline .tl-row")).to_have_count(ITERATIONS * 3 + 1)
    print(
        f"timeline of {ITERATIONS * 3 + 1} attempts drawn in {time.perf_counter() - started:.2f} s"
    )


def test_a_dynamic_fork_of_1000_tasks_renders_as_a_grid_of_tiles(
    page: Page, api: httpx.Client
) -> None:
    wid = start_workflow(api, "ui_scale_fork", {"n": FANOUT})
    workflow = completed(api, wid, FANOUT + 3)
    seconds, in_page_ms = open_and_time(page, wid, "#diagram .dg-tile")
    print(
        f"\n1,000-task dynamic fork: diagram visible {seconds:.2f} s after goto; first render {in_page_ms} ms after navigation start"
    )

    tiles = page.locator("#diagram .dg-tile")
    expect(tiles).to_have_count(FANOUT)
    expect(page.locator("#diagram .dg-tile.st-completed")).to_have_count(FANOUT)
    expect(page.locator(".dg-grid-head")).to_contain_text("1,000 spawned tasks")
    work_7 = next(t for t in workflow["tasks"] if t["referenceTaskName"] == "work7")
    page.locator('#diagram .dg-tile[data-ref="work7"]').click()
    expect(page.locator("#task-panel h2")).to_have_text("work7")
    page.locator('#task-panel [data-panel-tab="summary"]').click()
    expect(page.locator("#task-panel dl.facts")).to_contain_text(work_7["taskId"])
