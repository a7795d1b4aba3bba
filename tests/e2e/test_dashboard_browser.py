"""A person uses their privacy dashboard in Chromium."""

from __future__ import annotations

import json

import pytest

from tests.e2e.browser import check_page
from tests.e2e.helpers import dashboard_path, grant

pytestmark = pytest.mark.browser


def test_person_turns_a_purpose_off_sees_history_and_downloads_the_receipt(
    app, page, live_server_for, make_subject, tmp_path
):
    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")
    server = live_server_for(app)

    page.goto(server.url + dashboard_path(app, subject_id))
    assert page.url.endswith("/me")
    assert "ada" not in page.title().lower()
    check_page(page, "dashboard-your-data")

    page.get_by_role("link", name="Consent", exact=True).click()
    switch = page.get_by_role("switch", name="Allow Personalized recommendations")
    assert switch.is_checked()
    check_page(page, "dashboard-consent")
    with page.expect_navigation(url="**/me/consent?saved=*"):
        switch.click()  # JavaScript submits the form on change
    assert not page.get_by_role("switch", name="Allow Personalized recommendations").is_checked()
    history = page.get_by_role("table", name="Every consent decision, newest first")
    assert "withdrawn" in history.locator("tbody tr").first.inner_text()

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the receipt").click()
    path = tmp_path / "receipt.json"
    info.value.save_as(path)
    receipt = json.loads(path.read_text())
    assert receipt["jws"].count(".") == 2
    assert "ada.lovelace" not in path.read_text()
