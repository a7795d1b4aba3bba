"""Browser fixtures for the end-to-end tests (see tests/e2e/browser.py)."""

from tests.e2e.browser import browser, browser_context, live_server_for, page

__all__ = ["browser", "browser_context", "live_server_for", "page"]
