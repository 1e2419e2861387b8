"""Signing in to the UI in real Chromium: the page asks for an API key once, says why a key
was refused, remembers the one that works, signs out; a viewer sees why a change is refused."""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.auth_support import new_key
from tests.ui.ui_support import UiStack, inline

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def sign_in(page: Page, key: str) -> None:
    dialog = page.locator("dialog.login-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input").fill(key)
    dialog.get_by_role("button", name="Sign in").click()


@pytest.mark.signed_out
def test_the_ui_asks_for_a_key_once_and_says_why_a_key_is_refused(
    page: Page, ui_stack: UiStack
) -> None:
    page.goto("/definitions")
    sign_in(page, "key_000000000000.not-the-secret")
    dialog = page.locator("dialog.login-dialog")
    expect(dialog.locator(".login-error")).to_contain_text("unknown or revoked API key")
    sign_in(page, ui_stack.admin_key)
    expect(dialog).to_have_count(0)
    expect(page.locator(".topbar-user")).to_contain_text("ui-tester (admin)")
    page.reload()  # remembered: no second prompt
    expect(page.locator(".topbar-user")).to_contain_text("ui-tester (admin)")
    expect(page.locator("dialog.login-dialog")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("dialog.login-dialog")).to_be_visible()


@pytest.mark.signed_out
def test_a_viewer_sees_why_registering_a_definition_is_refused(
    page: Page, ui_stack: UiStack, api: httpx.Client
) -> None:
    viewer = new_key(ui_stack.database_url, "viewer", "ui-viewer")
    page.goto("/definitions#register")
    sign_in(page, viewer)
    definition = {"name": "ui_refused", "version": 1, "tasks": [inline("one", "1")]}
    page.get_by_label("Definition JSON").fill(json.dumps(definition))
    page.get_by_role("button", name="Save definition").click()
    result = page.locator("#register-result .alert-error")
    expect(result).to_contain_text("HTTP 403")
    expect(result).to_contain_text("that needs the role admin")
    assert api.get("/api/metadata/workflow/ui_refused").status_code == 404
