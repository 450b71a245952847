"""A real browser for UI tests: Debian's Chromium driven by Playwright for Python.

``browser`` (one per module) skips with a printed reason when ``/usr/bin/chromium`` is
missing, unless PODIUM_TEST_REQUIRE names ``browser`` (CI does): then it fails. ``signed_in``
gives a fresh page signed in with a token on a ``Server``; ``shoot`` saves a screenshot
under ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import missing
from tests.integration.server import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("PODIUM_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 15_000

SignIn = Callable[[Server, str | None], "Page"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for the module's tests (one process; each test gets its own context)."""
    if not CHROMIUM.exists():
        missing("browser", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing("browser", f"playwright is not installed: {exc}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def signed_in(browser: Browser) -> Iterator[SignIn]:
    """``signed_in(server, token)``: a new page in a fresh context, signed in with ``token``
    (the server's admin token when None), showing the jobs page."""
    contexts = []

    def open_page(server: Server, token: str | None = None) -> Page:
        context = browser.new_context(base_url=server.url, viewport={"width": 1280,
                                                                      "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/sign-in")
        page.get_by_label("API token").fill(token or server.token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/jobs"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def shoot(page: Page, name: str, publish: bool = False) -> Path:
    """Save a screenshot of ``page`` as ``tests/artifacts/<name>.png``; with ``publish``
    and PODIUM_TEST_SCREENSHOTS=docs in the environment also as
    ``docs/screenshots/<name>.png`` (for the README: a plain test run leaves the
    repository's files alone)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if publish and os.environ.get("PODIUM_TEST_SCREENSHOTS") == "docs":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    return path
