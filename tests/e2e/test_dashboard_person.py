"""Issue 13: a data subject walks their dashboard in Chromium, at 1280 px and 390 px, as a person would.

Every page is checked by `check_person_page`: axe-core with no violation of any impact, nothing scrolls
sideways at either width, no console error, and screenshots under test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.e2e.browser import PHONE, check_person_page
from tests.e2e.helpers import ACTOR, dashboard_path, grant, in_transaction

pytestmark = pytest.mark.browser


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
    assert page.locator("pre").count() == 0  # not source text in a <pre>
    assert article.get_by_role("heading", level=2).count() >= 1  # "# Title" rendered (below the page's <h1>)
    assert article.get_by_role("listitem").count() == 6  # "- item" rendered as a list
    assert "# " not in article.inner_text()
    assert "\n- " not in article.inner_text()
    assert page.locator("h1").count() == 1
    page.set_viewport_size(PHONE)
    _on_screen(article)
    check_person_page(page, "i13-p1-notice")


def test_point2_nothing_scrolls_sideways_and_records_are_cards_on_a_phone(app, page, live_server_for, make_subject):
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
    check_person_page(page, "i13-p2-your-data")

    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("button", name="Request a copy of my data").click()
    progress = page.locator("[data-poll-url] progress")
    assert progress.is_visible()
    _on_screen(progress)  # the progress bar is on screen
    check_person_page(page, "i13-p2-requests-running")
    drain(app)
    download = page.get_by_role("link", name="Download your data (ZIP)")
    download.wait_for(timeout=60_000)
    _on_screen(download)  # the download is on screen
    assert page.get_by_text("You can download it until").is_visible()  # and says when it expires
    check_person_page(page, "i13-p2-requests-done")

    page.get_by_role("link", name="Consent", exact=True).click()
    check_person_page(page, "i13-p2-consent")


def test_point3_show_values_uses_post_redirect_get(app, page, live_server_for, make_subject):
    server = live_server_for(app)
    page.goto(server.url + dashboard_path(app, make_subject()))
    page.get_by_role("button", name="Show values").click()
    page.wait_for_url("**/me#profile-h")
    assert page.get_by_text("ada.lovelace@example.org").is_visible()
    methods: list[str] = []
    page.on("request", lambda r: methods.append(r.method) if r.resource_type == "document" else None)
    page.reload()  # no "Confirm Form Resubmission": the page was reached by GET
    assert methods == ["GET"]
    assert page.get_by_text("ada.lovelace@example.org").is_visible()  # the reveal lives in the session a while
    page.go_back()
    page.go_forward()
    assert "POST" not in methods  # moving through history never re-posts the form
    check_person_page(page, "i13-p3-values-shown")
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
    check_person_page(page, "i13-p6-history")
