import pytest

from tests.e2e.browser import check_page
from tests.web.layout_app import make_layout_app

pytestmark = pytest.mark.browser


def test_layout_is_accessible_and_keyboard_operable(page, live_server_for):
    server = live_server_for(make_layout_app())
    page.goto(f"{server.url}/sample")
    assert page.title() == "Layout sample · Privacy governance"
    # the first Tab reaches the skip link, which moves focus to the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # JavaScript ran under the CSP (nonce), hiding the submit button of auto-submitting forms
    assert page.locator("[data-autosubmit-button]").is_hidden()
    check_page(page, "layout-sample")
