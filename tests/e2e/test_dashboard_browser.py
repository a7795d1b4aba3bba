"""A person uses their privacy dashboard in Chromium."""

from __future__ import annotations

import json

import pytest

from tests.e2e.browser import check_page, visible
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
    switch.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # visible focus
    page.keyboard.press("Space")  # keyboard operable; JavaScript saves the switch in place
    page.get_by_role("status").get_by_text("Saved: Personalized recommendations is off.").wait_for()
    assert not page.get_by_role("switch", name="Allow Personalized recommendations").is_checked()
    page.get_by_role("status").get_by_role("link", name="See the receipt").click()
    assert visible(page.get_by_role("heading", name="Consent receipt"))
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the signed receipt").click()
    path = tmp_path / "receipt.json"
    info.value.save_as(path)
    receipt = json.loads(path.read_text())
    assert receipt["jws"].count(".") == 2
    assert "ada.lovelace" not in path.read_text()
    page.get_by_role("link", name="Back to consent").click()
    history = page.get_by_role("table", name="Every consent decision, newest first")
    assert "Not allowed" in history.locator("tbody tr").first.inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(server.url + "/")
    assert visible(page.get_by_role("heading", name="You signed out of your privacy dashboard"))
    page.goto(server.url + "/me/consent")  # an old tab or a bookmark
    assert page.get_by_role("heading", name="What you allow").count() == 0  # the session is over
    assert page.url == server.url + "/"  # the front page, saying so; nothing about the person in the URL
    assert visible(page.get_by_role("heading", name="Your dashboard session has ended"))
    check_page(page, "home-session-ended")
    page.reload()
    assert page.locator("#session-ended").count() == 0  # said once
    check_page(page, "home")


def test_person_exports_their_data_then_erases_it_and_sees_the_certificate(
    app, page, live_server_for, make_subject, tmp_path
):
    import io
    import zipfile

    from governance.jobs.worker import drain

    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))

    page.get_by_role("link", name="How your data is used").first.click()
    assert visible(page.get_by_role("heading", name="How your data is used"))
    check_page(page, "dashboard-usage-none-yet")

    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("button", name="Request a copy of my data").click()
    assert visible(page.locator("[data-poll-url] progress"))  # progress while the job waits or runs
    check_page(page, "dashboard-requests-export-running")

    drain(app)  # the job worker; the page polls and reloads when the job has finished
    download_link = page.get_by_role("link", name="Download your data (ZIP)")
    download_link.wait_for(timeout=20_000)
    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / "export.zip"
    info.value.save_as(path)
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert archive.namelist()
    assert any("ada.lovelace@example.org" in archive.read(n).decode(errors="ignore") for n in archive.namelist())
    check_page(page, "dashboard-requests")

    page.get_by_role("link", name="Delete my data…").click()
    assert visible(page.get_by_role("heading", name="What we will delete"))
    assert visible(page.get_by_role("heading", name="What the law requires us to keep"))
    check_page(page, "dashboard-erase-confirm")
    page.get_by_role("button", name="Delete my data").click()
    assert page.url.endswith("/me/requests/erase") or page.url.endswith("/me/requests")  # the box was not ticked
    page.goto(server.url + "/me/requests/erase")
    page.get_by_label("I understand that my data will be deleted for good.").check()
    page.get_by_role("button", name="Delete my data").click()
    page.wait_for_url("**/me/requests")

    drain(app)
    page.reload()  # an erased person's requests page leads to the one page that explains the erasure
    page.get_by_role("link", name="See your erasure certificate").click()
    assert visible(page.get_by_role("heading", name="Erasure certificate"))
    assert "Kept by law" in page.content()
    check_page(page, "dashboard-erasure-certificate")

    page.get_by_role("link", name="Your data", exact=True).click()
    assert visible(page.get_by_text("Your data has been erased"))
    assert "ada.lovelace" not in page.content()
