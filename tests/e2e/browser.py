"""The browser harness: one Chromium per test session, a live server per test, axe checks and screenshots.

Its fixtures are imported by tests/e2e/conftest.py. Debian's Chromium is driven through Playwright
(Playwright's own browser download does not work here); tests that use it are marked `@pytest.mark.browser`.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = os.environ.get("GOVERNANCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SERIOUS = {"serious", "critical"}


class ClosingApp:
    """Serves `app`, closing each response's iterator as soon as it is exhausted or dropped.

    Werkzeug's dev server closes the iterator only after draining the socket, and that drain raises
    ConnectionResetError when the browser has already navigated away (a favicon cut short): the file behind a
    static response is then left to the garbage collector, and pytest fails the test on the ResourceWarning.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self._closing(self.app(environ, start_response))

    @staticmethod
    def _closing(body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        finally:  # runs on exhaustion, on an error while writing, and when the generator is collected
            close = getattr(body, "close", None)
            if close is not None:
                close()


@dataclass
class LiveServer:
    """A real HTTP server on 127.0.0.1 serving the app from a worker thread."""

    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def serve(self, app: Flask) -> None:
        """Serve another app on the same port (for an app that must know its own address)."""
        self.app = app
        self.server.app = ClosingApp(app)  # type: ignore[assignment]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_live_server(app: Flask) -> LiveServer:
    server = make_server("127.0.0.1", 0, ClosingApp(app), threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(app=app, server=server, thread=thread)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (skipped when Chromium is not installed)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_context(browser, tmp_path):
    """A fresh profile (cookies, storage) per test; downloads accepted."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = console_errors  # type: ignore[attr-defined]
    yield page
    page.close()


def visible(locator) -> bool:
    """Wait (up to the context's timeout) until the locator is visible. A click that submits a form returns
    before the next page has rendered, so a bare `is_visible()` right after it races the navigation."""
    locator.wait_for(state="visible")
    return True


def hidden(locator) -> bool:
    """Wait (up to the context's timeout) until the locator is hidden or gone; see `visible`."""
    locator.wait_for(state="hidden")
    return True


def axe_violations(page, *, impacts: set[str] = SERIOUS) -> list[dict]:
    """Serious and critical axe-core violations of the current page (empty when the page is fine)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return "\n".join(lines)


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, format_violations(violations)


def screenshot(page, name: str, *, phone: bool = True) -> Path:
    """Save a full-page screenshot at desktop width (and at phone width) under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(SCREENSHOTS / f"{safe}-phone.png"), full_page=True)
        # at phone width nothing may widen the page: wide tables scroll inside their own box
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= PHONE["width"], f"{name}: the page is {overflow}px wide at phone width"
        if size:
            page.set_viewport_size(size)
    return path


def check_page(page, name: str) -> Path:
    """Checks for every main page: axe, no CSP violations in the console, and a screenshot."""
    assert_accessible(page)
    csp_errors = [e for e in getattr(page, "console_errors", []) if "Content Security Policy" in e]
    assert not csp_errors, csp_errors
    return screenshot(page, name)


@pytest.fixture
def live_server_for() -> Iterator:
    """Start live servers for apps built by the test; all are stopped at the end of the test."""
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        server = start_live_server(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


ALL_IMPACTS = {"minor", "moderate", "serious", "critical"}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}

# every element that scrolls sideways (a table in a scrolling box counts: the person must not have to swipe)
_SIDEWAYS = """() => {
  const out = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) out.push("page:" + root.scrollWidth);
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (!["auto", "scroll"].includes(style.overflowX)) continue;
    if (el.scrollWidth > el.clientWidth + 1) out.push(el.tagName.toLowerCase() + "." + el.className);
  }
  return out;
}"""


def sideways_scrollers(page) -> list[str]:
    """The page, and every box on it, that scrolls horizontally at the current width (empty when none)."""
    return page.evaluate(_SIDEWAYS)


def check_person_page(page, name: str) -> list[Path]:
    """The strict check of a data subject's page, at 1280 px and at 390 px: axe-core with no violation of any
    impact (moderate and minor included), nothing that scrolls sideways, no console error; screenshots
    `<name>.png` and `<name>-phone.png` under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    size = page.viewport_size or DESKTOP
    shots = []
    try:
        for label, viewport in WIDTHS.items():
            page.set_viewport_size(viewport)
            scrollers = sideways_scrollers(page)
            assert not scrollers, f"{name} at {viewport['width']}px scrolls sideways: {scrollers}"
            violations = axe_violations(page, impacts=ALL_IMPACTS)
            assert not violations, f"{name} at {viewport['width']}px:\n{format_violations(violations)}"
            path = SCREENSHOTS / (f"{safe}.png" if label == "desktop" else f"{safe}-phone.png")
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
    finally:
        page.set_viewport_size(size)
    errors = list(getattr(page, "console_errors", []))
    assert not errors, f"{name}: console errors {errors}"
    return shots
