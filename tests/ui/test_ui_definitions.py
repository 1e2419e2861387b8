"""The definitions pages in real Chromium: register from pasted JSON (every validation problem
shown with its path), list workflows and task definitions, one definition's versions, diagram
and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.ui_support import inline, register, showcase

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

BROKEN = {
    "name": "ui_broken",
    "version": 1,
    "timeoutSeconds": -1,
    "tasks": [
        {"name": "a", "type": "INLINE"},
        {"taskReferenceName": "b", "type": "FORK_JOIN"},
    ],
}


def paste(page: Page, definition: Any) -> None:
    page.get_by_label("Definition JSON").fill(json.dumps(definition, indent=2))
    page.get_by_role("button", name="Save definition").click()


def test_register_lists_every_validation_problem_with_its_path(
    page: Page, api: httpx.Client
) -> None:
    expected = api.put("/api/metadata/workflow", json=BROKEN).json()["validationErrors"]
    assert len(expected) >= 5
    page.goto("/definitions#register")
    paste(page, BROKEN)
    result = page.locator("#register-result .alert-error")
    expect(result).to_contain_text("Not saved (HTTP 400)")
    expect(result).to_contain_text(f"{len(expected)} problems")
    items = result.locator("ul.problems li")
    expect(items).to_have_count(len(expected))
    shown = items.all_text_contents()
    for problem in expected:
        assert f"{problem['path']} {problem['message']}" in shown


def test_register_reports_json_syntax_errors_without_sending(page: Page) -> None:
    page.goto("/definitions#register")
    page.get_by_label("Definition JSON").fill('{"name": "x", ')
    page.get_by_role("button", name="Save definition").click()
    expect(page.locator("#register-result")).to_contain_text("Not valid JSON")


def test_registered_workflow_is_listed_and_drawn(
    page: Page, api: httpx.Client, screenshots: Path
) -> None:
    page.goto("/definitions#register")
    paste(page, showcase("ui_defs_showcase"))
    expect(page.locator("#register-result .alert-success")).to_contain_text(
        "Saved ui_defs_showcase v1"
    )
    assert api.get("/api/metadata/workflow/ui_defs_showcase").json()["version"] == 1

    page.get_by_role("tab", name="Workflows").click()
    row = page.locator('#workflow-defs tr[data-name="ui_defs_showcase"]')
    expect(row).to_contain_text("v1")
    row.locator("a.def-name").click()
    expect(page.locator("#definition-name")).to_have_text("ui_defs_showcase")
    diagram = page.locator("#definition-diagram svg")
    expect(diagram).to_be_visible()
    for ref in ("remember", "left", "right", "step", "big", "small"):
        expect(diagram).to_contain_text(ref)
    page.screenshot(path=str(screenshots / "definition.png"), full_page=True)
    page.get_by_role("tab", name="JSON").click()
    expect(page.locator("#definition-json pre")).to_contain_text('"loopCondition"')


def test_versions_are_listed_and_each_can_be_opened(
    page: Page, api: httpx.Client, screenshots: Path
) -> None:
    first = {"name": "ui_versions", "version": 1, "tasks": [inline("one", "1")]}
    second = {**first, "version": 2, "tasks": [inline("one", "1"), inline("two", "2")]}
    register(api, first, second)
    page.goto("/definitions")
    row = page.locator('#workflow-defs tr[data-name="ui_versions"]')
    expect(row.locator("a.pill")).to_have_text(["v1", "v2"])
    page.screenshot(path=str(screenshots / "definitions.png"), full_page=True)
    row.get_by_role("link", name="v1").click()
    expect(page.get_by_label("Version")).to_have_value("1")
    page.get_by_role("tab", name="JSON").click()
    expect(page.locator("#definition-json pre")).not_to_contain_text('"two"')
    page.get_by_label("Version").select_option("2")
    page.get_by_role("tab", name="JSON").click()
    expect(page.locator("#definition-json pre")).to_contain_text('"two"')


def test_registers_a_task_definition_and_lists_it(page: Page, api: httpx.Client) -> None:
    page.goto("/definitions#register")
    page.get_by_label("Kind").select_option("task")
    paste(
        page,
        [
            {
                "name": "ui_resize",
                "retryCount": 2,
                "timeoutSeconds": 60,
                "responseTimeoutSeconds": 30,
            }
        ],
    )
    expect(page.locator("#register-result .alert-success")).to_contain_text("ui_resize")
    assert api.get("/api/metadata/taskdefs/ui_resize").json()["retryCount"] == 2
    page.get_by_role("tab", name="Task definitions").click()
    row = page.locator('#task-defs tr[data-name="ui_resize"]')
    expect(row).to_contain_text("2 \u00d7 FIXED")
    row.get_by_role("button", name="JSON").click()
    expect(page.locator("#task-defs tr.json-row:visible pre")).to_contain_text(
        '"responseTimeoutSeconds": 30'
    )


def test_invalid_task_definition_shows_its_problems(page: Page) -> None:
    page.goto("/definitions#register")
    page.get_by_label("Kind").select_option("task")
    paste(page, [{"name": "ui_bad_task", "retryCount": -3}])
    result = page.locator("#register-result .alert-error")
    expect(result).to_contain_text("HTTP 400")
    expect(result.locator("ul.problems li").first).to_contain_text("retryCount")


def test_event_handlers_are_listed_with_their_event_actions_and_json(
    page: Page, api: httpx.Client
) -> None:
    handler = {
        "name": "ui_on_approval",
        "event": "conductor:ui_orders:approval",
        "condition": "$.approved",
        "actions": [
            {
                "action": "complete_task",
                "complete_task": {"workflowId": "${wid}", "taskRefName": "wait_approval"},
            },
            {"action": "start_workflow", "start_workflow": {"name": "ui_ship"}},
        ],
        "active": True,
    }
    answer = api.post("/api/event", json=handler)
    assert answer.status_code == 200, answer.text
    page.goto("/definitions#events")
    row = page.locator('#event-handlers tr[data-name="ui_on_approval"]')
    expect(row).to_contain_text("conductor:ui_orders:approval")
    expect(row).to_contain_text("active")
    expect(row.locator(".pill")).to_have_text(
        ["complete_task wait_approval", "start_workflow ui_ship"]
    )
    row.get_by_role("button", name="JSON").click()
    expect(page.locator("#event-handlers tr.json-row:visible pre")).to_contain_text(
        '"expandInlineJSON": false'
    )
