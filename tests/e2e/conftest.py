"""Browser fixtures for the end-to-end tests (see tests/e2e/browser.py) and the web tests' factories."""

from tests.e2e.browser import browser, browser_context, live_server_for, page
from tests.web.conftest import make_subject

__all__ = ["browser", "browser_context", "live_server_for", "make_subject", "page"]
