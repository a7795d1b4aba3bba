"""Issue 13: a data subject walks their dashboard in Chromium, at 1280 px and 390 px, as a person would.

Every page is checked by `check_page`: axe-core with no violation of any impact, nothing scrolls
sideways at either width, no console error, and screenshots under test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile

import pytest

from tests.e2e.browser import PHONE, check_page, hidden, new_context, visible
from tests.e2e.helpers import ACTOR, dashboard_path, grant, in_transaction

pytestmark = pytest.mark.browser
STAFF_PASSWORD = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def _generous_deadlines(browser_context) -> None:
    """CI is a busy 2-core machine: every wait (navigation, element) may take up to a minute."""
    browser_context.set_default_timeout(60_000)
    browser_context.set_default_navigation_timeout(60_000)


def _on_screen(locator) -> None:
    """The element lies within the phone's width (not pushed off to the right)."""
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= PHONE["width"]


def _activity(app, subject_id: uuid.UUID) -> None:
    from governance.vault import service as vault

    now = dt.datetime.now(dt.UTC)
    events = [
        {
            "event_id": f"v{i}",
            "category": "view",
            "occurred_at": (now - dt.timedelta(days=31 * i)).isoformat(),
            "item_id": "sku-1",
        }
        for i in range(4)
    ] + [{"event_id": "s1", "category": "search", "occurred_at": now.isoformat()}]
    in_transaction(
        app,
        lambda s: vault.ingest_events(s, subject_id, events, actor=ACTOR, lawful_categories={"view", "search"}),
    )


def _decide_earlier(app, subject_id: uuid.UUID, purpose: str, decision: str, days_ago: int) -> None:
    """A decision the app collected days ago and sends only now (recorded today, collected earlier)."""
    from governance.consent import service as consent

    collected = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    in_transaction(
        app,
        lambda s: consent.record_decisions(
            s,
            subject_id,
            [{"purpose": purpose, "decision": decision, "collected_at": collected}],
            method="api",
            actor=ACTOR,
            jurisdiction="EU",
        ),
    )


def test_point1_the_notice_reads_as_a_document_at_phone_width(app, page, live_server_for, make_subject):
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("link", name="Consent", exact=True).click()
    page.get_by_role("link", name="Read the notice for Training our models").click()
    article = page.get_by_role("article", name="Notice text")
    assert visible(article)  # count() does not wait: let the click's navigation render first
    assert page.locator("pre").count() == 0  # not source text in a <pre>
    assert article.get_by_role("heading", level=2).count() >= 1  # "# Title" rendered (below the page's <h1>)
    assert article.get_by_role("listitem").count() == 6  # "- item" rendered as a list
    assert "# " not in article.inner_text()
    assert "\n- " not in article.inner_text()
    assert page.locator("h1").count() == 1
    page.set_viewport_size(PHONE)
    _on_screen(article)
    check_page(page, "i13-p1-notice")


def test_point2_nothing_scrolls_sideways_and_records_are_cards_on_a_phone(
    app, page, live_server_for, make_subject, tmp_path
):
    from governance.jobs.worker import drain

    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")
    _activity(app, subject_id)
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.set_viewport_size(PHONE)

    activity = page.get_by_role("table", name="Recorded events by kind: all time, then month by month, newest first")
    first_row = activity.locator("tbody tr").first
    assert first_row.evaluate("el => getComputedStyle(el).display") == "block"  # a stacked card
    all_time = first_row.locator("td").first
    assert all_time.get_attribute("data-label") == "All time"
    _on_screen(all_time)  # "All time" is on screen
    labels = activity.locator("tbody tr").first.locator("td").evaluate_all("tds => tds.map(t => t.dataset.label)")
    assert labels[1] == dt.datetime.now(dt.UTC).strftime("%B %Y")  # the newest month comes first
    check_page(page, "i13-p2-your-data")

    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("button", name="Request a copy of my data").click()
    progress = page.locator("[data-poll-url] progress")
    assert visible(progress)
    _on_screen(progress)  # the progress bar is on screen
    check_page(page, "i13-p2-requests-running")
    drain(app)
    download = page.get_by_role("link", name="Download your data (ZIP)")
    download.wait_for(timeout=60_000)
    _on_screen(download)  # the download is on screen
    assert visible(page.get_by_text("You can download it until"))  # and says when it expires
    check_page(page, "i13-p2-requests-done")
    with page.expect_download() as info:
        download.click()
    archive = zipfile.ZipFile(io.BytesIO(info.value.path().read_bytes()))
    index = tmp_path / "index.html"
    index.write_bytes(archive.read("index.html"))
    overview = page.context.new_page()  # the ZIP's overview, opened offline in the browser
    overview.goto(index.as_uri())
    assert visible(overview.get_by_role("heading", name="Your data export"))
    assert "Ada Lovelace" in overview.get_by_role("table", name="Your profile").inner_text()
    check_page(overview, "i13-export-index")
    overview.close()

    page.get_by_role("link", name="Consent", exact=True).click()
    check_page(page, "i13-p2-consent")


def test_point3_show_values_uses_post_redirect_get(app, page, live_server_for, make_subject):
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("button", name="Show values").click()
    page.wait_for_url("**/me#profile-h")
    assert visible(page.get_by_text("ada.lovelace@example.org"))
    methods: list[str] = []
    page.on("request", lambda r: methods.append(r.method) if r.resource_type == "document" else None)
    page.reload()  # no "Confirm Form Resubmission": the page was reached by GET
    assert methods == ["GET"]
    assert visible(page.get_by_text("ada.lovelace@example.org"))  # the reveal lives in the session a while
    page.go_back()
    page.go_forward()
    assert "POST" not in methods  # moving through history never re-posts the form
    check_page(page, "i13-p3-values-shown")
    page.get_by_role("button", name="Hide values").click()
    page.wait_for_url("**/me#profile-h")
    assert page.get_by_text("ada.lovelace@example.org").count() == 0
    page.reload()
    assert page.get_by_text("ada.lovelace@example.org").count() == 0  # hidden stays hidden


def test_point6_history_and_receipts_are_newest_first_by_when_the_person_decided(
    app, page, live_server_for, make_subject
):
    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")  # decided and recorded now
    _decide_earlier(app, subject_id, "product_analytics", "granted", days_ago=3)  # decided 3 days ago, sent now
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Consent", exact=True).click()
    history = page.get_by_role("table", name="Every consent decision, newest first").locator("tbody tr")
    assert "Personalized recommendations" in history.nth(0).inner_text()
    assert "Product analytics" in history.nth(1).inner_text()
    assert "reached us" in history.nth(1).inner_text()  # recorded later than decided: both shown
    assert "reached us" not in history.nth(0).inner_text()
    receipts = page.get_by_role("table", name="Receipts of your decisions, newest first").locator("tbody tr")
    assert "Personalized recommendations" in receipts.nth(0).inner_text()
    assert "Product analytics" in receipts.nth(1).inner_text()
    check_page(page, "i13-p6-history")


def test_point4_a_consent_switch_keeps_focus_and_announces_the_result(
    app, page, browser, live_server_for, make_subject
):
    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Consent", exact=True).click()
    page.wait_for_load_state("load")  # app.js has run (a person who is quicker sees the Save button)
    live = page.locator("#consent-status")
    assert live.get_attribute("role") == "status"  # the live region is there before any change
    assert live.get_attribute("aria-live") == "polite"
    page.evaluate("window.samePage = true")  # lost if the page navigates

    switch = page.get_by_role("switch", name="Allow Personalized recommendations")
    switch.focus()
    page.keyboard.press("Space")  # keyboard only
    live.get_by_text("Saved: Personalized recommendations is off.").wait_for(timeout=60_000)
    assert page.evaluate("window.samePage") is True  # saved in place, no reload
    assert not switch.is_checked()
    focused = page.evaluate("[document.activeElement.getAttribute('role'), document.activeElement.name]")
    assert focused == ["switch", "decision"]
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby')") == (
        "p-personalized_recommendations-desc"
    )
    page.keyboard.press("Space")  # and back on, still from the keyboard
    live.get_by_text("Saved: Personalized recommendations is on.").wait_for(timeout=60_000)
    assert switch.is_checked()
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby')") == (
        "p-personalized_recommendations-desc"
    )
    check_page(page, "i13-p4-switch-saved")
    page.reload()
    assert page.get_by_role("switch", name="Allow Personalized recommendations").is_checked()  # really saved

    # without JavaScript the same switch is a form with a Save button: a full post, then the same message
    context = new_context(browser, java_script_enabled=False)
    try:
        nojs = context.new_page()
        nojs.goto(server.url + dashboard_path(app, subject_id))
        nojs.goto(server.url + "/me/consent")
        nojs.get_by_role("switch", name="Allow Personalized recommendations").uncheck()
        nojs.get_by_role("button", name="Save Personalized recommendations").click()
        nojs.wait_for_url("**/me/consent?saved=*")
        assert "Saved: Personalized recommendations is off." in nojs.locator("#consent-status").inner_text()
        assert not nojs.get_by_role("switch", name="Allow Personalized recommendations").is_checked()
    finally:
        context.close()


def test_feature_one_button_turns_everything_optional_off(app, page, live_server_for, make_subject):
    subject_id = make_subject()
    for purpose in ("personalized_recommendations", "product_analytics", "model_training"):
        grant(app, subject_id, purpose)
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Consent", exact=True).click()
    assert visible(page.get_by_text("You allow 3 of"))
    check_page(page, "i13-all-off-before")
    page.get_by_role("button", name="Turn all optional uses off").click()
    page.wait_for_url("**/me/consent")
    assert visible(page.get_by_text("Everything optional is off now (3 turned off)."))
    assert page.locator("input[role=switch]:checked").count() == 0
    assert visible(page.get_by_text("Everything optional is off."))
    history = page.get_by_role("table", name="Every consent decision, newest first").locator("tbody tr")
    assert sum("Not allowed" in row for row in history.all_inner_texts()) == 3
    check_page(page, "i13-all-off-after")


def test_point5_after_erasure_one_clear_page_and_error_pages_keep_the_navigation(
    app, page, live_server_for, make_subject
):
    from governance.jobs.worker import drain
    from governance.vault import service as vault

    subject_id = make_subject()
    grant(app, subject_id, "personalized_recommendations")
    purchase = {
        "event_id": "p1",
        "category": "purchase",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "item_id": "sku-1",
        "value": 10,
    }
    in_transaction(  # a purchase: tax law keeps its record for ten years after the erasure
        app, lambda s: vault.ingest_events(s, subject_id, [purchase], actor=ACTOR, lawful_categories={"purchase"})
    )
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("link", name="Delete my data…").click()
    page.get_by_label("I understand that my data will be deleted for good.").check()
    page.get_by_role("button", name="Delete my data").click()
    page.wait_for_url("**/me/requests")
    drain(app)

    page.goto(server.url + "/me")
    assert visible(page.get_by_role("heading", name="Your data has been erased", level=1))
    nav = page.get_by_role("navigation", name="Your privacy")
    assert nav.get_by_role("link").all_inner_texts() == ["Your data"]  # nothing that cannot work
    for gone in ("Request a copy of my data", "Correct it", "Object", "Show values", "Turn all optional uses off"):
        assert page.get_by_role("button", name=gone).count() == 0
    assert page.get_by_role("switch").count() == 0
    kept = page.get_by_role("region", name="What the law requires us to keep")
    assert "tax and commercial law" in kept.inner_text()
    assert "We delete it on" in kept.inner_text()  # and until when
    check_page(page, "i13-p5-erased")

    for path in ("/me/consent", "/me/requests", "/me/usage", "/me/requests/erase"):  # old tabs, bookmarks
        page.goto(server.url + path)
        assert page.url == server.url + "/me", path
    page.get_by_role("link", name="See your erasure certificate").click()
    assert visible(page.get_by_role("heading", name="Erasure certificate"))
    assert page.locator("pre").count() == 0  # no raw signature on the page; it is a download
    check_page(page, "i13-p5-certificate")

    for path in (f"/me/requests/{uuid.uuid4()}/certificate", "/me/requests/not-an-id/certificate"):
        response = page.goto(server.url + path)
        assert response.status in (403, 404), path  # an unknown or malformed id is refused, never a server error
        assert visible(page.get_by_role("navigation", name="Your privacy"))  # the dashboard's navigation
        assert visible(page.get_by_role("link", name="Go to your privacy dashboard"))
    check_page(page, "i13-p5-not-found")


def test_point7_a_rejected_correction_keeps_the_input_and_says_how_to_write_it(
    app, page, live_server_for, make_subject
):
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_label("What is wrong?").select_option(label="Date of birth")
    page.get_by_role("button", name="Continue").click()
    field = page.get_by_label("Date of birth")
    assert field.get_attribute("type") == "date"  # a date picker
    assert "Choose the day in the calendar" in page.locator("#rectify-hint").inner_text()
    field.fill("2999-01-01")
    with page.expect_navigation(url="**/me/requests?correct=birth_date#rectify"):  # the post, then its redirect
        page.get_by_role("button", name="Correct it").click()
    field = page.get_by_label("Date of birth")
    assert field.input_value() == "2999-01-01"  # what was typed is kept
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby").split()
    assert "rectify-error" in described
    assert "cannot be in the future" in page.locator("#rectify-error").inner_text()
    check_page(page, "i13-p7-date-rejected")

    page.get_by_role("link", name="Choose another field").click()
    page.get_by_label("What is wrong?").select_option(label="Email address")
    # the whole page, not only the field: Enter submits a form only once its submit button has been parsed
    # (on a loaded machine the field could be filled and Enter pressed before it was, and nothing was sent)
    with page.expect_navigation(url="**/me/requests?correct=email#rectify"):
        page.get_by_role("button", name="Continue").click()
    page.get_by_label("Email address").fill("ada at example")
    with page.expect_navigation(url="**/me/requests?correct=email#rectify"):
        page.get_by_label("Email address").press("Enter")  # implicit submission, keyboard only
    email = page.get_by_label("Email address")
    assert email.input_value() == "ada at example"
    assert email.get_attribute("aria-invalid") == "true"
    assert "For example name@example.com" in page.locator("#rectify-error").inner_text()
    check_page(page, "i13-p7-email-rejected")
    email.fill("ada@example.com")
    page.get_by_role("button", name="Correct it").click()
    assert visible(page.get_by_text("Thank you. We corrected your data."))


def _end_sessions_of(app, subject_id) -> None:
    """End the person's sessions on the server, as the idle timeout does. (Clearing the browser's cookies raced
    with responses still in flight under load: one could set the cookie again and the click was saved.)"""
    import sqlalchemy as sa

    from governance.access.models import SubjectSession
    from governance.db import utcnow

    with app.extensions["governance.db"].engine.begin() as conn:
        conn.execute(
            sa.update(SubjectSession).where(SubjectSession.subject_id == subject_id).values(revoked_at=utcnow())
        )


def test_point8_a_stale_tab_says_exactly_which_action_was_not_saved(
    app, page, browser_context, live_server_for, make_subject
):
    subject_id = make_subject()
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Consent", exact=True).click()
    page.wait_for_load_state("networkidle")  # app.js has run
    _end_sessions_of(app, subject_id)  # the session ends (timeout) on the server while the tab stays open
    page.get_by_role("switch", name="Allow Personalized recommendations").focus()
    page.keyboard.press("Space")
    page.wait_for_url(server.url + "/")
    assert visible(page.get_by_role("heading", name="Your last action was not saved"))
    assert visible(page.get_by_text("We did not save switching Personalized recommendations on"))
    assert page.get_by_text("Nothing you changed is lost").count() == 0
    check_page(page, "i13-p8-not-saved")

    from governance.consent import service as consent

    statuses = in_transaction(app, lambda s: consent.overview(s, subject_id))
    assert not next(s for s in statuses if s.purpose == "personalized_recommendations").allowed  # indeed not saved

    page.goto(server.url + "/me")  # a GET from an old tab: nothing was lost, and it says so
    assert visible(page.get_by_role("heading", name="Your dashboard session has ended"))
    assert visible(page.get_by_text("Nothing was changed since then"))


OPEN_REQUEST_EXPLAINED = {
    "We have your request and will start on it shortly.",
    "We confirmed it was you and are working on it.",
    "We are working on it now.",
}
JARGON = ("E.164", "ISO 3166", "BCP 47", "ISO 8601", "ISO 639", "JWS", "eyJ")


def test_point14_plain_language_on_every_page_a_person_sees(app, page, live_server_for, make_subject):
    subject_id = make_subject()
    grant(app, subject_id, "model_training")
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("button", name="Show values").click()
    profile = page.get_by_role("region", name="Your profile").inner_text()
    assert "Germany" in profile  # countries and languages by name
    assert "English" in profile
    assert "10 December 1990" in profile
    for code in ("\tDE\n", "\ten\n", "1990-12-10"):
        assert code not in profile
    page.get_by_role("link", name="Consent", exact=True).click()
    consent_text = page.locator("main").inner_text()
    assert "Kept for 2 years" in consent_text  # retention in months or years
    assert "730 days" not in consent_text
    page.get_by_role("link", name="View the receipt for Training our models").first.click()
    assert visible(page.get_by_role("heading", name="Consent receipt"))
    assert visible(page.get_by_text("Allowed", exact=True))
    check_page(page, "i13-receipt")  # the readable receipt beside the signed download
    pages = {"receipt": page.locator("main").inner_text()}
    page.goto(server.url + "/me/requests")
    page.get_by_role("button", name="Request a copy of my data").click()
    explained = page.locator("td[data-label=Status] .small").first.inner_text()  # the status, explained
    assert explained in OPEN_REQUEST_EXPLAINED
    pages["requests"] = page.locator("main").inner_text()
    for field in ("phone", "country", "language", "birth_date"):
        page.goto(server.url + f"/me/requests?correct={field}#rectify")
        pages[field] = page.locator("main").inner_text()
    page.goto(server.url + "/me/consent/notices/model_training/v2")
    pages["notice"] = page.locator("main").inner_text()
    pages["consent"] = consent_text
    for name, text in pages.items():
        for word in JARGON:
            assert word not in text, (name, word)
    page.goto(server.url + "/me/requests?correct=country#rectify")
    assert page.get_by_label("Country where you live").locator("option", has_text="Germany").count() == 1
    check_page(page, "i13-p14-country-by-name")


def test_feature_a_readable_receipt_beside_the_signed_one_prints_as_a_document(
    app, page, live_server_for, make_subject
):
    subject_id = make_subject()
    grant(app, subject_id, "model_training")
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("link", name="Consent", exact=True).click()
    page.get_by_role("link", name="View the receipt for Training our models").first.click()
    assert visible(page.get_by_role("heading", name="Consent receipt"))
    facts = page.locator("dl.facts").inner_text()
    assert "Training our models" in facts
    assert "Allowed" in facts
    for raw in ("eyJ", "JWS", "urn:uuid"):  # words, not the signed token or identifiers
        assert raw not in page.locator("main").inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the signed receipt").click()
    assert info.value.suggested_filename.endswith((".json", ".jwt", ".jws", ".txt"))
    check_page(page, "i13-receipt-readable")

    printed = page.get_by_role("button", name="Print this page")
    assert visible(printed)  # shown once JavaScript can make it work
    page.evaluate("window.print = () => { window.printedAt = Date.now(); }")  # no print dialog in a headless test
    printed.click()
    assert page.evaluate("typeof window.printedAt") == "number"
    page.emulate_media(media="print")  # what the printer gets: the receipt, none of the page's controls
    try:
        assert visible(page.get_by_role("heading", name="Consent receipt"))
        assert "Training our models" in page.locator("dl.facts").inner_text()
        for control in ("Back to consent", "Download the signed receipt", "Read the notice you decided on"):
            assert page.get_by_text(control).evaluate_all("els => els.every(e => e.offsetParent === null)"), control
        assert hidden(page.locator("nav.site-nav"))
        assert hidden(page.get_by_role("button", name="Sign out"))
        pdf = page.pdf(format="A4")  # Chromium's own print to PDF: the printable page renders
        assert pdf.startswith(b"%PDF")
    finally:
        page.emulate_media(media="screen")


def test_feature_an_expired_link_says_what_to_do_next(app, page, live_server_for, make_subject):
    server = live_server_for(app)
    link = dashboard_path(app, make_subject())
    page.goto(server.url + link)
    page.get_by_role("button", name="Sign out").click()
    response = page.goto(server.url + link)  # the same link again: used once already
    assert response.status == 410
    assert visible(page.get_by_role("heading", name="This link has expired"))
    steps = page.get_by_role("region", name="What to do now").get_by_role("listitem")
    assert steps.count() == 3
    assert "Open privacy dashboard" in steps.nth(1).inner_text()
    check_page(page, "i13-link-expired")


def test_feature_an_expired_download_link_says_what_to_do_next(app, page, live_server_for, make_subject):
    """A tab left open on the download: by the time the person clicks, the copy's time has run out."""
    from governance.jobs.worker import drain
    from tests.e2e.helpers import expire_export

    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("button", name="Request a copy of my data").click()
    drain(app)
    page.reload()
    download = page.get_by_role("link", name="Download your data (ZIP)")
    assert visible(download)
    expire_export(app, download.get_attribute("href").split("/")[3])
    download.click()  # the old tab's link: no silent failure in the browser's download list
    page.wait_for_url("**/me/requests")
    assert visible(page.get_by_text("That copy of your data is no longer available"))
    assert visible(page.get_by_text("Request a new copy below if you still need one.").first)
    assert page.get_by_role("link", name="Download your data (ZIP)").count() == 0
    assert visible(page.get_by_role("button", name="Request a copy of my data"))
    check_page(page, "i13-download-expired")


def test_feature_recovery_codes_can_be_copied_and_downloaded(app, page, browser_context, live_server_for, tmp_path):
    import pyotp

    from governance.access import accounts

    in_transaction(
        app,
        lambda s: accounts.create_staff(s, username="dora", password=STAFF_PASSWORD, roles={"dpo"}, actor=ACTOR),
    )
    server = live_server_for(app)
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.goto(server.url + "/console")
    page.get_by_label("User name").fill("dora")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    secret = page.locator("figcaption code").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    assert visible(page.get_by_role("heading", name="Your recovery codes"))
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) >= 5

    page.get_by_role("button", name="Copy the codes").click()
    page.get_by_role("status").get_by_text("Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.split() == codes
    with page.expect_download() as info:
        page.get_by_role("button", name="Download as a text file").click()
    assert info.value.suggested_filename == "recovery-codes.txt"
    path = tmp_path / "codes.txt"
    info.value.save_as(path)
    assert path.read_text().split() == codes
    check_page(page, "i13-recovery-codes")


def test_feature_who_accessed_my_data_with_a_proof_checked_offline(app, page, live_server_for, make_subject, tmp_path):
    import json
    import subprocess
    import sys

    from governance.access import accounts
    from governance.access.principals import Principal
    from governance.vault import service as vault
    from tests.e2e.helpers import seal_audit_log

    subject_id = make_subject()
    staff = in_transaction(
        app,
        lambda s: accounts.create_staff(s, username="dana", password=STAFF_PASSWORD, roles={"dpo"}, actor=ACTOR),
    )
    dpo = Principal(kind="staff", id=str(staff.id), roles=frozenset({"dpo"}), mfa=True)
    in_transaction(app, lambda s: vault.read_profile(s, subject_id, actor=dpo, view="clear"))
    seal_audit_log(app)
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, subject_id))
    page.get_by_role("button", name="Show values").click()  # the person's own look is not listed
    page.get_by_role("link", name="Who accessed it").click()
    rows = page.get_by_role("table", name="Accesses to your data, newest first").locator("tbody tr")
    rows.first.wait_for()  # the click's navigation: under load the count ran on the page before
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "Our data protection officer" in text
    assert "saw your details in clear" in text
    assert "dana" not in page.content()  # staff by role only
    assert str(staff.id) not in page.content()
    check_page(page, "i13-who-accessed")

    with page.expect_download() as info:
        rows.first.get_by_role("link", name="Download proof").click()
    proof_path = tmp_path / "access-proof.json"
    info.value.save_as(proof_path)
    proof = json.loads(proof_path.read_text())
    assert proof["kind"] == "inclusion"
    assert proof["entry"]["action"] == "vault.profile.read_clear"
    key = tmp_path / "audit.pub.pem"
    key.write_text(proof["public_key_pem"])
    checker = subprocess.run(  # the offline checker, as the person would run it (a separate process)
        [sys.executable, "-m", "governance.audit.offline_verify", "--proof", str(proof_path), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checker.returncode == 0, checker.stdout + checker.stderr
    assert checker.stdout.startswith("OK")
    response = page.request.get(server.url + "/me/access/0/proof")  # an entry not about this person
    assert response.status == 404


def test_feature_a_pending_request_can_be_withdrawn(app, page, live_server_for, make_subject):
    from governance.jobs.worker import drain

    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("button", name="Request a copy of my data").click()
    withdraw = page.get_by_role("button", name="Withdraw the request: Copy of your data", exact=False)
    assert visible(withdraw)  # count() does not wait: it raced the post's redirect and failed once under load
    assert withdraw.count() == 1
    withdraw.click()
    page.wait_for_url("**/me/requests")
    assert visible(page.get_by_text("You withdrew the request. Nothing more will be done for it."))
    status = page.locator("td[data-label=Status]").first.inner_text()
    assert "Withdrawn" in status
    assert "You withdrew this request; nothing more is done for it." in status
    assert page.get_by_role("button", name="Withdraw the request", exact=False).count() == 0
    drain(app)  # the export job sees the withdrawal and stops: no download appears
    page.reload()
    assert page.get_by_role("link", name="Download your data (ZIP)").count() == 0
    assert "Withdrawn" in page.locator("td[data-label=Status]").first.inner_text()
    check_page(page, "i13-request-withdrawn")
    response = page.request.post(server.url + f"/me/requests/{uuid.uuid4()}/cancel")
    assert response.status in (400, 404)  # no CSRF token / not this person's request: refused, never a 5xx
