import pytest

from tests.e2e.browser import PHONE, check_page
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


def test_records_tables_are_cards_on_a_phone_and_keep_their_table_roles(page, live_server_for):
    """display:block turns a table into cards, and makes WebKit and Firefox forget it is a table (Chromium keeps
    it); app.js puts the roles back explicitly, and each card names its columns."""
    server = live_server_for(make_layout_app())
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/sample")
    table = page.locator("table.records")
    row = table.locator("tbody tr").first
    assert row.evaluate("el => getComputedStyle(el).display") == "block"  # a stacked card
    label = row.locator("td").first.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"A"'  # the column's name from data-label
    roles = table.evaluate(
        """t => [t.getAttribute('role'), t.tBodies[0].getAttribute('role'), t.rows[1].getAttribute('role'),
                 t.rows[0].cells[0].getAttribute('role'), t.rows[1].cells[0].getAttribute('role')]"""
    )
    assert roles == ["table", "rowgroup", "row", "columnheader", "cell"]
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    computed = {node["role"]["value"] for node in tree if node.get("role")}
    assert {"table", "row", "columnheader", "cell"} <= computed  # what a screen reader is told
    check_page(page, "layout-records-cards")
