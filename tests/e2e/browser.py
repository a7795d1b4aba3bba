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
from urllib.parse import urlsplit

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
WIDTHS = (DESKTOP, PHONE)


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


# ports of the live servers: console errors count on their pages, not on a third party's (the test OpenID provider)
_SERVED_PORTS: set[int] = set()


def start_live_server(app: Flask) -> LiveServer:
    server = make_server("127.0.0.1", 0, ClosingApp(app), threaded=True)  # type: ignore[arg-type]
    _SERVED_PORTS.add(server.server_port)
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
    """A fresh profile (cookies, storage) per test; downloads accepted; every page it opens is watched."""
    context = new_context(browser, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = watch(browser_context.new_page())
    yield page
    if not page.is_closed():
        problems = _problems(page)  # what happened after the test's last check_page still counts
        page.close()
        assert not problems, "after the last check_page:\n" + "\n".join(problems)


def new_context(browser, **options: Any):
    """A browser context at desktop width whose pages are all watched (see `watch`). Tests that need a second
    person's browser, or one without JavaScript, open it with this rather than `browser.new_context()`."""
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(**options)
    context.on("page", watch)
    return context


_RESOURCE_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


def watch(page) -> Any:
    """Collect what `check_page` asserts is empty: console errors, uncaught page errors and 5xx responses.

    Chromium also logs a page's own 4xx status as a console error ("Failed to load resource"); that one is
    the status the test expects (a 404 page, an expired link's 410), not a fault of the page, so it is left
    out when it names the main document with exactly that status. Any other failed resource counts. Pages
    of a third party (the test OpenID provider's sign-in and sign-out pages) are not checked."""
    if getattr(page, "watched", False):
        return page
    page.watched = True
    page.console_errors = []
    page.page_errors = []
    page.server_errors = []
    documents: dict[str, int] = {}

    def on_response(response: Any) -> None:
        if response.status >= 500:
            page.server_errors.append(f"{response.status} {response.request.method} {response.url}")
        if response.request.resource_type == "document" and response.frame == page.main_frame:
            documents[response.url] = response.status

    def ours() -> bool:
        return urlsplit(page.url).port in _SERVED_PORTS

    def on_console(message: Any) -> None:
        if message.type != "error" or not ours():
            return
        status = _RESOURCE_STATUS.match(message.text)
        url = (message.location or {}).get("url", "")
        if status and 400 <= int(status.group(1)) < 500 and documents.get(url) == int(status.group(1)):
            return
        page.console_errors.append(f"{message.text} ({url})")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: page.page_errors.append(str(error)) if ours() else None)
    return page


def _problems(page) -> list[str]:
    """The console errors, page errors and 5xx responses seen since the previous check (and forget them)."""
    problems = [f"console error: {e}" for e in page.console_errors]
    problems += [f"page error: {e}" for e in page.page_errors]
    problems += [f"server error: {e}" for e in page.server_errors]
    page.console_errors.clear()
    page.page_errors.clear()
    page.server_errors.clear()
    return problems


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


def visible(locator) -> bool:
    """Wait (up to the context's timeout) until the locator is visible. A click that submits a form returns
    before the next page has rendered, so a bare `is_visible()` right after it races the navigation."""
    locator.wait_for(state="visible")
    return True


def hidden(locator) -> bool:
    """Wait (up to the context's timeout) until the locator is hidden or gone; see `visible`."""
    locator.wait_for(state="hidden")
    return True


def axe_violations(page) -> list[dict]:
    """Every axe-core violation of the current page, whatever its impact (minor and moderate included)."""
    from axe_playwright_python.sync_playwright import Axe

    return list(Axe().run(page).response["violations"])


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return "\n".join(lines)


# the page, and every element that scrolls sideways (a table in a scrolling box counts: nobody should swipe)
_SIDEWAYS = """() => {
  const out = [];
  const root = document.scrollingElement || document.documentElement;
  if (root.scrollWidth > window.innerWidth) out.push("page:" + root.scrollWidth + ">" + window.innerWidth);
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


def screenshot_name(name: str, width: int) -> str:
    """The file `check_page(page, name)` writes at `width` under test-artifacts/screenshots/."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()) + f"-{width}.png"


def check_page(page, name: str) -> list[Path]:
    """The one check of every page a browser test reaches, at 1280 px and at 390 px: nothing scrolls sideways
    (neither the page nor a box on it), axe-core finds no violation of any impact, and no console error, page
    error or 5xx response happened since the previous check. Writes test-artifacts/screenshots/<name>-1280.png
    and <name>-390.png; the viewport is restored afterwards."""
    assert getattr(page, "watched", False), "open the page through the harness (page fixture or new_context)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")  # deferred scripts have run: axe sees the page as a person does
    size = page.viewport_size or DESKTOP
    shots = []
    try:
        for viewport in WIDTHS:
            page.set_viewport_size(viewport)
            width = viewport["width"]
            scrollers = sideways_scrollers(page)
            assert not scrollers, f"{name} at {width}px scrolls sideways: {scrollers}"
            violations = axe_violations(page)
            assert not violations, f"{name} at {width}px:\n{format_violations(violations)}"
            path = SCREENSHOTS / screenshot_name(name, width)
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
    finally:
        page.set_viewport_size(size)
    problems = _problems(page)
    assert not problems, f"{name}:\n" + "\n".join(problems)
    return shots
