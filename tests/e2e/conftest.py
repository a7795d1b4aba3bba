"""Factories shared with the web tests. The browser fixtures (`browser`, `browser_context`, `page`,
`live_server_for`) are registered once for the whole suite from tests/conftest.py, so that every test
shares one Chromium (a second session-scoped copy would start a second Playwright loop)."""

from tests.web.conftest import make_subject

__all__ = ["make_subject"]
