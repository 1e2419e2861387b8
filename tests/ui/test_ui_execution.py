"""The execution view in real headless Chromium against the real stack (tests/ui/conftest.py).

Workflows use only tasks the processor runs itself (INLINE, SET_VARIABLE, FORK_JOIN, DO_WHILE,
SWITCH, SUB_WORKFLOW, HUMAN); the tests drive HUMAN tasks through the REST API while the page
is open, so what the page shows comes from the engine, the projector and the API, not fixtures.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import eventually, inline, register, start_workflow, wait_status

pytestmark = [pytest.mark.e2e]

CHILD = {"name": "ui_exec_child", "version": 1, "tasks": [inline("child_step", "({done: true})")]}
SHOWCASE = {
    "name": "ui_exec_showcase",
    "version": 1,
    "tasks": [
        inline("prepare", "({n: $.n})", n="${workflow.input.n}"),
        {
            "name": "mark_forked",
            "taskReferenceName": "mark_forked",
            "type": "SET_VARIABLE",
            "inputParameters": {"stage": "forked"},
        },
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [
                [inline("left_a", "({v: 1})"), inline("left_b", "({v: 2})")],
                [inline("right_a", "({v: 3})")],
            ],
        },
        {
            "name": "join",
            "taskReferenceName": "join",
            "type": "JOIN",
            "joinOn": ["left_b", "right_a"],
        },
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": "$.loop['iteration'] < 3",
            "loopOver": [inline("step", "({i: 1})"), inline("check", "({ok: true})")],
        },
        {
            "name": "mark_looped",
            "taskReferenceName": "mark_looped",
            "type": "SET_VARIABLE",
            "inputParameters": {"stage": "looped"},
        },
        {
            "name": "route",
            "taskReferenceName": "route",
            "type": "SWITCH",
            "evaluatorType": "value-param",
            "expression": "kind",
            "inputParameters": {"kind": "${workflow.input.kind}"},
            "decisionCases": {
                "fast": [inline("fast_path", "'fast'")],
                "slow": [inline("slow_path", "'slow'")],
            },
            "defaultCase": [inline("default_path", "'default'")],
        },
        {
            "name": "child",
            "taskReferenceName": "child",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "ui_exec_child", "version": 1},
        },
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        inline("finish", "({end: true})"),
    ],
}
CALC_FAILS = inline(
    "calc",
    "(function () { if ($.fail) throw new Error('boom: asked to fail'); return 1; })()",
    fail="${workflow.input.fail}",
)
REVIEWED = {
    "name": "ui_exec_reviewed",
    "version": 1,
    "tasks": [
        CALC_FAILS,
        {"name": "review", "taskReferenceName": "review", "type": "HUMAN", "retryCount": 0},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def definitions(api: httpx.Client) -> None:
    register(api, CHILD, SHOWCASE, REVIEWED)


def node(page: Page, ref: str) -> Any:
    return page.locator(f'#diagram .dg-node[data-ref="{ref}"]')


def status_class(group: str) -> re.Pattern[str]:
    return re.compile(rf"\b{group}\b")


def waiting_showcase(api: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A showcase execution that went through fork, loop, switch and child, waiting at approve."""
    wid = start_workflow(api, "ui_exec_showcase", {"n": 3, "kind": "fast"})

    def at_approve() -> bool:
        got = api.get(f"/api/workflow/{wid}").json()
        return any(t["referenceTaskName"] == "approve" for t in got["tasks"])

    eventually(at_approve, "the showcase to reach its HUMAN task")
    return wid, api.get(f"/api/workflow/{wid}").json()


def complete_human(api: httpx.Client, wid: str, ref: str, status: str = "COMPLETED") -> None:
    response = api.post(f"/api/tasks/{wid}/{ref}/{status}", json={"by": "ui-test"})
    assert response.status_code == 200, response.text


def test_diagram_colours_the_executed_path_and_links_the_child(
    page: Page, api: httpx.Client, screenshots: Path
) -> None:
    wid, workflow = waiting_showcase(api)
    child_id = next(
        t["subWorkflowId"] for t in workflow["tasks"] if t["referenceTaskName"] == "child"
    )
    page.set_viewport_size({"width": 1440, "height": 1900})
    page.goto(f"/execution/{wid}")

    for ref in (
        "prepare",
        "fork",
        "left_a",
        "left_b",
        "right_a",
        "join",
        "route",
        "fast_path",
        "child",
    ):
        expect(node(page, ref)).to_have_class(status_class("st-completed"))
    expect(node(page, "approve")).to_have_class(status_class("st-running"))
    for ref in ("slow_path", "default_path", "finish"):
        expect(node(page, ref)).to_have_class(status_class("unreached"))
    expect(page.locator('#diagram .dg-case.on[data-case="fast"]')).to_have_count(1)
    expect(page.locator('#diagram .dg-loop[data-loop="loop"] .dg-iter')).to_have_text(
        "iteration 3 of 3"
    )
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "RUNNING")
    expect(node(page, "child").locator("a.dg-child")).to_have_attribute(
        "href", f"/execution/{child_id}"
    )

    node(page, "child").click()  # the panel of the sub-workflow task, in the picture too
    expect(page.locator("#task-panel a.child-link")).to_have_text(child_id)
    shot = screenshots / "execution-fork-loop-subworkflow.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")

    node(page, "child").locator("a.dg-child").click()
    expect(page).to_have_url(re.compile(f"/execution/{child_id}$"))
    expect(node(page, "child_step")).to_have_class(status_class("st-completed"))
    expect(page.locator("a.parent-link")).to_have_attribute("href", f"/execution/{wid}")


def test_task_panel_shows_a_task_and_the_loop_iteration_picked(
    page: Page, api: httpx.Client
) -> None:
    wid, workflow = waiting_showcase(api)
    step_2 = next(t["taskId"] for t in workflow["tasks"] if t["referenceTaskName"] == "step__2")
    page.goto(f"/execution/{wid}")

    node(page, "left_a").click()
    panel = page.locator("#task-panel")
    expect(panel.locator("h2")).to_have_text("left_a")
    expect(panel.locator(".badge")).to_have_text("COMPLETED")
    assert "null" not in panel.inner_text()  # no empty part rendered as text
    panel.locator('[data-panel-tab="output"]').click()
    expect(panel.locator('pre[data-json="task-output"]')).to_contain_text('"v": 1')

    page.locator('#diagram [data-loop-ref="loop"][aria-label="Previous iteration"]').click()
    expect(page.locator('#diagram .dg-loop[data-loop="loop"] .dg-iter')).to_have_text(
        "iteration 2 of 3"
    )
    expect(node(page, "step")).to_have_attribute("data-task-id", step_2)
    node(page, "step").click()
    expect(panel.locator(".task-type")).to_contain_text("iteration 2")

    panel.locator("button.back").click()
    expect(panel.locator("h2")).to_have_text("Workflow data")
    expect(panel.locator('pre[data-json="variables"]')).to_contain_text('"stage": "looped"')


def test_history_and_time_travel_show_the_diagram_and_variables_of_the_past(
    page: Page, api: httpx.Client
) -> None:
    wid, _ = waiting_showcase(api)
    history = api.get(f"/api/workflow/{wid}/history").json()
    forked = next(e["seq"] for e in history if e["type"] == "VariablesUpdated")
    page.goto(f"/execution/{wid}")
    variables = page.locator('#task-panel pre[data-json="variables"]')
    expect(variables).to_contain_text('"stage": "looped"')

    page.locator('.exec-tabs [data-tab="history"]').click()
    rows = page.locator("#history tr.history-row")
    expect(rows).to_have_count(len(history))
    expect(rows.first.locator("td").nth(2)).to_have_text(history[0]["actor"])
    expect(rows.first.locator("td").nth(3)).to_have_text("WorkflowStarted")

    rows.nth(forked - 1).click()  # the state right after the first SET_VARIABLE took effect
    expect(page.locator(".travel-banner")).to_contain_text(
        f"after event #{forked} of {len(history)}"
    )
    expect(variables).to_contain_text('"stage": "forked"')
    page.locator('.exec-tabs [data-tab="diagram"]').click()
    expect(node(page, "prepare")).to_have_class(status_class("st-completed"))
    expect(node(page, "fork")).to_have_attribute("data-status", "NOT_REACHED")
    expect(page.locator("#exec-head button[data-action]").first).to_be_disabled()

    page.locator(".tt-slider").fill(str(forked - 1))  # one event earlier: no variable yet
    expect(page.locator(".tt-label")).to_contain_text(f"#{forked - 1}")
    expect(variables).not_to_contain_text("stage")

    page.locator(".tt-live").click()
    expect(page.locator(".travel-banner")).to_be_hidden()
    expect(variables).to_contain_text('"stage": "looped"')
    expect(node(page, "fork")).to_have_class(status_class("st-completed"))


def test_live_update_shows_a_human_task_completed_without_reload(
    page: Page, api: httpx.Client
) -> None:
    wid, _ = waiting_showcase(api)
    page.goto(f"/execution/{wid}")
    expect(node(page, "approve")).to_have_class(status_class("st-running"))
    page.evaluate("window.__sameDocument = true")

    complete_human(api, wid, "approve")

    expect(node(page, "approve")).to_have_class(status_class("st-completed"))
    expect(node(page, "finish")).to_have_class(status_class("st-completed"))
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "COMPLETED")
    expect(page.locator(".live-dot")).to_have_text("Ended")  # polling stopped at the end
    assert page.evaluate("window.__sameDocument") is True


def test_retry_from_the_page_runs_a_failed_workflow_again(page: Page, api: httpx.Client) -> None:
    wid = start_workflow(api, "ui_exec_reviewed", {"fail": False})
    wait_for_task(api, wid, "review")
    complete_human(api, wid, "review", "FAILED")
    wait_status(api, wid, "FAILED")
    page.goto(f"/execution/{wid}")
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "FAILED")
    expect(node(page, "review")).to_have_class(status_class("st-failed"))

    page.locator('#exec-head button[data-action="retry"]').click()

    expect(page.locator("#exec-status")).to_have_attribute("data-status", "RUNNING")
    expect(node(page, "review")).to_have_class(status_class("st-running"))
    two_attempts = "\u00d72"  # the diagram's "x2", with a multiplication sign
    expect(node(page, "review").locator(".dg-attempts")).to_have_text(two_attempts)
    complete_human(api, wid, "review")
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "review")).to_have_class(status_class("st-completed"))
    node(page, "review").click()
    expect(page.locator("#task-panel .attempt")).to_have_count(2)
    assert [e["type"] for e in api.get(f"/api/workflow/{wid}/history").json()].count(
        "WorkflowRetried"
    ) == 1


def test_a_failed_inline_task_shows_its_reason(page: Page, api: httpx.Client) -> None:
    wid = start_workflow(api, "ui_exec_reviewed", {"fail": True})
    wait_status(api, wid, "FAILED")
    page.goto(f"/execution/{wid}")
    expect(page.locator(".exec-reason")).to_contain_text("boom: asked to fail")
    expect(node(page, "review")).to_have_class(status_class("unreached"))
    node(page, "calc").click()
    expect(page.locator("#task-panel .task-reason")).to_contain_text("boom: asked to fail")
    expect(page.locator('#task-panel [data-action="rerun-task"]')).to_be_visible()


def test_terminate_asks_for_a_reason_and_records_it(page: Page, api: httpx.Client) -> None:
    wid = start_workflow(api, "ui_exec_reviewed", {"fail": False})
    wait_for_task(api, wid, "review")
    page.goto(f"/execution/{wid}")
    page.locator('#exec-head button[data-action="terminate"]').click()
    dialog = page.locator("dialog.exec-dialog")
    dialog.locator("textarea").fill("stopped from the UI test")
    dialog.locator('[data-dialog="confirm"]').click()
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "TERMINATED")
    expect(page.locator(".exec-reason")).to_contain_text("stopped from the UI test")
    history = api.get(f"/api/workflow/{wid}/history").json()
    assert history[-1]["type"] == "WorkflowTerminated"


def wait_for_task(api: httpx.Client, wid: str, ref: str) -> None:
    def reached() -> bool:
        tasks = api.get(f"/api/workflow/{wid}").json()["tasks"]
        return any(t["referenceTaskName"] == ref and t["status"] == "IN_PROGRESS" for t in tasks)

    eventually(reached, f"task {ref} of {wid} to be IN_PROGRESS")


def test_rerun_from_a_task_in_its_panel_reopens_the_workflow(page: Page, api: httpx.Client) -> None:
    wid = start_workflow(api, "ui_exec_reviewed", {"fail": False})
    wait_for_task(api, wid, "review")
    complete_human(api, wid, "review")
    wait_status(api, wid, "COMPLETED")
    page.goto(f"/execution/{wid}")
    node(page, "review").click()
    page.locator('#task-panel [data-action="rerun-task"]').click()
    page.locator('dialog.exec-dialog [data-dialog="confirm"]').click()
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "RUNNING")
    expect(node(page, "review")).to_have_class(status_class("st-running"))
    expect(node(page, "calc")).to_have_class(status_class("st-completed"))


def test_skip_of_a_task_not_reached_yet_from_its_panel(page: Page, api: httpx.Client) -> None:
    wid, _ = waiting_showcase(api)
    page.goto(f"/execution/{wid}")
    node(page, "finish").click()
    expect(page.locator("#task-panel .badge")).to_have_text("NOT REACHED")
    page.locator('#task-panel [data-action="skip-task"]').click()
    page.locator('dialog.exec-dialog [data-dialog="confirm"]').click()

    def skipped() -> bool:  # the browser's request, before the API completes what precedes it
        history = api.get(f"/api/workflow/{wid}/history").json()
        return any(e["type"] == "TaskSkipped" for e in history)

    eventually(skipped, f"the skip of finish in {wid}'s history")
    complete_human(api, wid, "approve")
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "finish")).to_have_attribute("data-status", "SKIPPED")
