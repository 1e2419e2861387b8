"""Fixtures of the UI tests: a real stack per module and real headless Chromium (Playwright).

``ui_stack`` (module): processor + projector + ``orchestrator api`` subprocesses on their own
topic prefix and Postgres schema (tests/ui/ui_support.py). ``base_url`` its URL, ``api`` an
httpx client on it, ``browser`` Debian's Chromium driven by Playwright (never a downloaded
browser; a missing one FAILS the tests), ``page`` a fresh page per test, screenshotted into the
screenshot folder when its test fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth_support import bearer
from tests.ui import ui_support
from tests.ui.ui_support import CHROMIUM, CHROMIUM_ARGS, UiStack

EXPECT_TIMEOUT_MS = 30_000  # the machine is shared: generous waits, never sleeps
PAGE_TIMEOUT_MS = 45_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.kafka)
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.timeout(300))  # includes the module's stack start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def ui_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[UiStack]:
    label = Path(str(request.module.__file__)).stem.removeprefix("test_ui_")[:12]
    stack, schema = ui_support.start_stack(tmp_path_factory.mktemp(f"ui-{label}"), label)
    try:
        yield stack
    finally:
        ui_support.stop_stack(stack, schema)


@pytest.fixture(scope="module")
def base_url(ui_stack: UiStack) -> str:
    return ui_stack.base_url


@pytest.fixture(scope="module")
def api(ui_stack: UiStack) -> Iterator[httpx.Client]:
    headers = bearer(ui_stack.admin_key)
    with httpx.Client(base_url=ui_stack.base_url, timeout=60, headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/install_browser.sh (make install) "
            "or set ORCHESTRATOR_CHROMIUM to a Chromium binary"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = ui_support.screenshot_dir(tmp_path_factory.getbasetemp() / "screenshots")
    print(f"\nUI screenshots: {path}")
    return path


@pytest.fixture
def page(
    browser: Any, ui_stack: UiStack, screenshots: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    context = browser.new_context(
        base_url=ui_stack.base_url, viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    if "signed_out" not in request.keywords:  # signed in, as after the UI asked once
        key = json.dumps(ui_stack.admin_key)
        context.add_init_script(f"localStorage.setItem('orchestrator.apiKey', {key})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = screenshots / f"FAILED-{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        context.close()
    # A script error on the page is a bug even when the assertions passed.
    assert not errors, f"JavaScript errors on the page: {errors}"
