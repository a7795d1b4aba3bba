"""The German dashboard in Chromium with the browser's language set to German (de-DE), at 1280 px and 390 px.

Every page is checked by `check_page` (axe-core with no violation of any impact, nothing scrolls sideways,
no console error, screenshots `i18n-de-*.png`), and says `<html lang="de">`.
"""

from __future__ import annotations

import pytest

from tests.e2e.browser import check_page, new_context, visible
from tests.e2e.helpers import dashboard_path, grant
from tests.web.conftest import PROFILE

pytestmark = pytest.mark.browser
NO_LANGUAGE = {k: v for k, v in PROFILE.items() if k != "language"}


@pytest.fixture
def german_page(browser):
    """A browser profile whose language is German: Chromium sends `Accept-Language: de-DE,…`."""
    context = new_context(browser, locale="de-DE", accept_downloads=True)  # its pages are watched
    context.set_default_timeout(60_000)  # a busy 2-core CI machine: generous deadlines, never a short wait
    context.set_default_navigation_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()


def _german(page, name: str) -> None:
    assert page.locator("html").get_attribute("lang") == "de"
    check_page(page, name)  # console errors included


def test_a_german_reader_walks_the_dashboard(app, german_page, live_server_for, make_subject):
    page = german_page
    subject_id = make_subject(NO_LANGUAGE)
    grant(app, subject_id, "product_analytics")
    server = live_server_for(app)

    page.goto(server.url + dashboard_path(app, subject_id))
    assert visible(page.get_by_role("heading", name="Die Daten, die wir über Sie speichern"))
    assert visible(page.get_by_text("Deutschland", exact=True))  # the country by name, in German
    _german(page, "i18n-de-your-data")

    page.get_by_role("link", name="Einwilligung", exact=True).click()
    assert visible(page.get_by_role("heading", name="Was Sie erlauben"))
    _german(page, "i18n-de-consent")

    switch = page.get_by_role("switch", name="Produktanalyse erlauben")
    switch.click()  # saved in place with fetch; the live region says so in German
    assert visible(page.locator("#consent-status").get_by_text("Gespeichert: Produktanalyse ist ausgeschaltet."))
    assert page.evaluate("document.activeElement.getAttribute('role')") == "switch"  # focus stays on the switch

    page.get_by_role("link", name="Hinweis lesen für Training unserer Modelle").click()
    assert visible(page.get_by_role("heading", name="Training unserer Modelle: Hinweis, Version 2"))
    assert visible(page.get_by_role("article", name="Text des Hinweises").get_by_text("Pseudonym", exact=False).first)
    _german(page, "i18n-de-notice")

    page.get_by_role("link", name="Anträge", exact=True).click()
    assert visible(page.get_by_role("heading", name="Ihre Anträge"))
    _german(page, "i18n-de-requests")

    page.get_by_role("link", name="Wie Ihre Daten verwendet werden", exact=True).click()
    _german(page, "i18n-de-usage")

    page.get_by_role("link", name="Wer zugegriffen hat", exact=True).click()
    _german(page, "i18n-de-access")


def test_the_switcher_turns_the_german_dashboard_english_and_back(app, german_page, live_server_for, make_subject):
    page = german_page
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject(NO_LANGUAGE)))
    page.get_by_role("link", name="Anträge", exact=True).click()

    page.get_by_role("button", name="English").click()
    assert visible(page.get_by_role("heading", name="Your requests"))  # the same page, now in English
    assert page.locator("html").get_attribute("lang") == "en"
    check_page(page, "i18n-switched-to-english")

    page.get_by_role("button", name="Deutsch").click()
    assert visible(page.get_by_role("heading", name="Ihre Anträge"))
    _german(page, "i18n-de-switched-back")
