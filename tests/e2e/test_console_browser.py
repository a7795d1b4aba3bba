"""An auditor (and an admin) use the console in Chromium."""

from __future__ import annotations

import itertools

import pytest

from governance.jobs.worker import drain
from tests.e2e.browser import check_page, hidden, new_context, visible
from tests.e2e.helpers import (
    create_staff_with_totp,
    dashboard_path,
    fail_job_for_good,
    file_overdue_request,
    file_verified_request,
    grant,
    release_dataset,
    seal_audit_log,
    seed_service_activity,
    sign_in,
    tamper_with_audit_row,
    train_small_model,
)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple 42"


def _people(app, make_subject, live_server_for, browser, count: int = 3) -> None:
    """A few people with consents and requests, made through the real services and the dashboard."""
    subjects = [make_subject() for _ in range(count)]
    for subject_id in subjects:
        grant(app, subject_id, "personalized_recommendations")
    grant(app, subjects[0], "product_analytics")
    file_overdue_request(app, subjects[1])
    server = live_server_for(app)
    context = new_context(browser)  # the person's own browser: no shared cookies with the staff member
    person = context.new_page()
    person.goto(server.url + dashboard_path(app, subjects[0]))
    person.goto(server.url + "/me/requests")
    person.get_by_role("button", name="Request a copy of my data").click()
    person.wait_for_url("**/me/requests")
    context.close()


def test_auditor_signs_in_filters_exports_and_sees_the_alarm(
    app, page, browser, live_server_for, make_subject, tmp_path
):
    _people(app, make_subject, live_server_for, browser)
    seal_audit_log(app)
    secret = create_staff_with_totp(app, "audra", PASSWORD, {"auditor"})
    server = live_server_for(app)

    sign_in(page, server.url, "audra", PASSWORD, secret, check=check_page)
    assert visible(page.get_by_role("heading", name="Overview"))
    assert page.locator("#audit-alarm").count() == 0
    check_page(page, "console-overview")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    # point 12: the verification summary is one line above the table; its details sit behind a disclosure
    line = page.locator("#verification .verification-line")
    assert "verified" in line.inner_text().lower()
    assert line.evaluate("e => e.getClientRects().length") == 1
    assert hidden(page.get_by_text("Latest signed checkpoint", exact=True))
    page.get_by_text("Verification details and the latest signed checkpoint").click()
    assert visible(page.get_by_text("Latest signed checkpoint", exact=True))
    # newest first by default, and the six columns fit 1280 px: the table never scrolls sideways
    seqs = [int(t.split()[0]) for t in page.locator("table.audit-table tbody tr td:first-child").all_inner_texts()]
    assert seqs == sorted(seqs, reverse=True)
    wrap = page.locator(".records-wrap").filter(has=page.locator("table.audit-table"))
    assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    long_details = page.locator("table.audit-table details").first
    if long_details.count():
        long_details.locator("summary").click()
        assert visible(long_details.locator("pre"))
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    # jump to a position with the keyboard: the entry is at the top of the page
    page.get_by_label("Entry number").fill(str(seqs[-1]))
    page.get_by_label("Entry number").press("Enter")
    assert page.locator("table.audit-table tbody tr td:first-child").first.inner_text().split()[0] == str(seqs[-1])
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("vault.subject")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/console/audit?action=vault.subject*")  # count() does not wait for the filtered page
    rows = page.get_by_role("table", name="Audit entries, newest first (filtered)").locator("tbody tr")
    assert rows.count() == 3
    assert all("vault.subject.create" in text for text in rows.all_inner_texts())
    check_page(page, "console-audit-log")

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    path = tmp_path / "audit.csv"
    info.value.save_as(path)
    exported = path.read_text()
    assert exported.count("vault.subject.create") >= 3
    assert "consent.decision.recorded" not in exported  # the export follows the filter

    rows.first.get_by_role("link").click()
    assert visible(page.get_by_role("heading", name="Audit entry")) or page.locator("h1").inner_text()
    check_page(page, "console-audit-entry")

    first_seq = int(page.locator("h1").inner_text().rsplit(" ", 1)[-1])
    tamper_with_audit_row(app, first_seq)
    page.goto(server.url + "/console/audit")
    assert page.locator("#audit-alarm").count() == 0  # pages show the stored report until the next verification
    page.get_by_role("button", name="Verify now").click()
    page.get_by_role("status").get_by_text("Verification of the whole log started").wait_for()
    assert drain(app, kinds=["audit.verify"]) == 1  # what the job worker does
    page.goto(server.url + "/console/audit")
    alarm = page.locator("#audit-alarm")
    assert visible(alarm)
    assert "verification FAILED" in alarm.inner_text()
    check_page(page, "console-audit-alarm")


def test_auditor_and_admin_console_pages(app, page, browser, live_server_for, make_subject):
    _people(app, make_subject, live_server_for, browser)
    seed_service_activity(app)
    trained = train_small_model(app, make_subject)
    release_dataset(app, "trainer", "model_training", ["country"])  # 30 people in one class: k = 30
    seal_audit_log(app)
    secret = create_staff_with_totp(app, "ada-admin", PASSWORD, {"admin", "dpo"})
    server = live_server_for(app)
    sign_in(page, server.url, "ada-admin", PASSWORD, secret)
    nav = page.get_by_role("navigation", name="Console")
    for link, heading, shot in [
        ("Requests", "Data subject requests", "console-requests"),
        ("Consent", "Consent", "console-consent"),
        ("Privacy budgets", "Privacy budgets", "console-budgets"),
        ("Releases and models", "Releases and models", "console-releases"),
        ("Policies in force", "Policies in force", "console-policies"),
        ("Records of processing", "Records of processing activities", "console-records"),
        ("Admin", "Admin", "console-admin"),
    ]:
        nav.get_by_role("link", name=link).click()
        assert visible(page.get_by_role("heading", name=heading, exact=True)), link
        check_page(page, shot)
        if link == "Requests":
            assert page.locator("tr.is-overdue").count() == 1
            page.locator("tr:not(.is-overdue) a").first.click()
            assert visible(page.get_by_role("heading", name="Timeline"))
            page.get_by_label("Reason").fill("Exports for several linked accounts need more time")
            page.get_by_role("button", name="Extend").click()
            assert visible(page.get_by_role("status").get_by_text("Deadline extended by"))
            check_page(page, "console-request-detail")
    assert visible(page.get_by_role("heading", name="Staff accounts"))
    assert visible(page.get_by_role("heading", name="Master key"))
    assert visible(page.get_by_role("cell", name="CRM"))
    assert visible(page.get_by_role("table").get_by_text("recommender", exact=True).first)

    nav.get_by_role("link", name="Releases and models").click()
    assert visible(page.get_by_role("table", name="Training jobs, newest first").get_by_text("succeeded"))

    # one of the people the model and the dataset included sees both, with their protections, on their dashboard
    context = new_context(browser)
    person = context.new_page()
    person.goto(server.url + dashboard_path(app, trained[0]))
    person.get_by_role("link", name="How your data is used").first.click()
    models = person.get_by_role("table", name="Models trained on data that included you")
    assert "Differential privacy" in models.inner_text()
    datasets = person.get_by_role("table", name="Dataset releases that included you").inner_text()
    assert "Training our models" in datasets
    assert "Pseudonymized" in datasets
    assert "k = 30, required 10" in datasets
    check_page(person, "dashboard-usage")
    context.close()


def test_a_dpo_reads_policies_in_plain_words_and_learns_why_a_training_job_failed(
    app, page, live_server_for, make_subject
):
    train_small_model(app, make_subject, people=2)  # far too few people: the job fails for good
    secret = create_staff_with_totp(app, "dana-dpo", PASSWORD, {"dpo"})
    server = live_server_for(app)
    sign_in(page, server.url, "dana-dpo", PASSWORD, secret)
    nav = page.get_by_role("navigation", name="Console")

    nav.get_by_role("link", name="Policies in force").click()
    body = page.locator("main").inner_text()
    assert "{'" not in body
    assert "months':" not in body
    assert visible(page.get_by_text("Answer within 1 month of receiving the request."))
    assert visible(page.get_by_text("Confirm receipt within 10 business days."))
    assert "California (United States)" in body
    check_page(page, "console-policies-plain-words")

    nav.get_by_role("link", name="Releases and models").click()
    assert "No report" not in page.locator("main").inner_text()
    page.get_by_text("Privacy report of").first.click()  # the disclosure opens by mouse ...
    assert visible(page.get_by_text("Why it failed:"))
    assert visible(page.get_by_text("Wait until more people have consented", exact=False))
    assert visible(page.locator("code", has_text="too_few_examples"))
    check_page(page, "console-training-failed")
    page.set_viewport_size({"width": 390, "height": 844})  # ... and reads on a phone
    assert visible(page.get_by_text("Why it failed:"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_dpo_works_a_request_with_the_keyboard_on_a_phone(app, page, live_server_for, make_subject):
    file_overdue_request(app, make_subject(profile={"email": "jana@example.org"}), days_ago=2)
    secret = create_staff_with_totp(app, "dora-dpo", PASSWORD, {"dpo"})
    server = live_server_for(app)
    sign_in(page, server.url, "dora-dpo", PASSWORD, secret)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/console/requests")
    page.locator("table a[href^='/console/requests/']").first.click()
    assert "jana@example.org" not in page.content()  # whose request it is, masked
    check_page(page, "console-request-casework")

    page.get_by_label("Owner").select_option(label="dora-dpo")
    page.get_by_role("button", name="Save owner").press("Enter")
    page.get_by_role("status").get_by_text("Owner saved.").wait_for()  # waits for the redirected page
    page.get_by_label("Add a note").fill("Asked for the CRM copy as well")
    page.get_by_role("button", name="Add note").wait_for()  # parsed, so that Tab reaches it
    page.get_by_label("Add a note").press("Tab")
    page.keyboard.press("Enter")  # the focused "Add note" button
    page.get_by_role("status").get_by_text("Note added").wait_for()  # waits for the redirected page
    assert visible(page.get_by_text("Asked for the CRM copy as well"))
    page.get_by_label("How was the person's identity verified?").select_option("id_document")
    page.get_by_role("button", name="Verify identity and start").press("Enter")
    page.get_by_role("status").get_by_text("Identity verified").wait_for()  # waits for the redirected page
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    check_page(page, "console-request-verified")
    page.go_back()  # Back after a post/redirect/get shows the page again, not "Confirm Form Resubmission"
    assert visible(page.get_by_role("heading", level=1))


def test_a_dpo_retries_then_completes_a_failed_export_with_the_keyboard_on_a_phone(
    app, page, live_server_for, make_subject
):
    from governance.requests import service as requests

    request_id = file_verified_request(app, make_subject(), "access")
    fail_job_for_good(app, requests.EXPORT_JOB)
    secret = create_staff_with_totp(app, "dora-dpo", PASSWORD, {"dpo"})
    server = live_server_for(app)
    sign_in(page, server.url, "dora-dpo", PASSWORD, secret)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/console/requests/{request_id}")
    check_page(page, "console-request-failed-job")
    page.get_by_role("button", name="Retry the job").press("Enter")
    page.get_by_role("status").get_by_text("queued again").wait_for()  # waits for the redirected page
    assert hidden(page.get_by_role("button", name="Retry the job"))  # queued once: nothing more to retry

    page.get_by_label("How was it done?").select_option("secure_email")
    page.get_by_label("Reference").fill("Ticket 8812, sent through the secure portal")
    page.get_by_role("button", name="Complete the request").wait_for()  # parsed, so that Tab reaches it
    page.get_by_label("Reference").press("Tab")
    page.keyboard.press("Enter")  # the focused "Complete the request" button
    page.get_by_role("status").get_by_text("Request completed").wait_for()  # waits for the redirected page
    assert visible(page.get_by_text("Ticket 8812, sent through the secure portal"))  # the internal note
    assert hidden(page.get_by_role("button", name="Complete the request"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    check_page(page, "console-request-completed-by-hand")
    page.go_back()  # post/redirect/get: Back shows the page again, not "Confirm Form Resubmission"
    assert visible(page.get_by_role("heading", level=1))


def test_an_admin_adds_a_client_sees_its_secret_once_and_back_does_not_resubmit(app, page, live_server_for):
    from governance.access import accounts
    from tests.e2e.helpers import in_transaction

    secret = create_staff_with_totp(app, "ada-admin", PASSWORD, {"admin"})
    server = live_server_for(app)
    sign_in(page, server.url, "ada-admin", PASSWORD, secret)
    codes = in_transaction(  # the sign-in used this 30 s step's code: the re-check takes a recovery code
        app, lambda s: accounts.replace_recovery_codes(s, accounts.list_staff(s)[0])
    )
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Admin").click()
    page.get_by_text("Add a client").click()
    form = page.locator("form", has=page.get_by_label("Client name"))
    form.get_by_label("Client name").fill("Recommender")
    form.get_by_label("datasets:request").check()
    form.get_by_label("Code from your authenticator app").fill(codes[0])
    form.get_by_role("button", name="Add client").click()
    page.get_by_role("heading", name="Client added").wait_for()
    shown = page.get_by_role("textbox", name="Client secret").input_value()
    assert len(shown) >= 32
    check_page(page, "console-admin-client-secret")
    page.get_by_role("link", name="Done, back to Admin").click()
    page.get_by_role("heading", name="Admin", exact=True).wait_for()
    page.go_back()  # the secret page's entry now points at the admin page: no resubmission, no second client
    page.get_by_role("heading", name="Admin", exact=True).wait_for()
    assert shown not in page.content()
    assert page.get_by_role("cell", name="Recommender").count() == 1


def test_consent_statistics_read_on_a_phone_with_legible_labels(app, page, live_server_for, make_subject):
    for _ in range(4):
        grant(app, make_subject(), "personalized_recommendations")
    secret = create_staff_with_totp(app, "cora-dpo", PASSWORD, {"dpo"})
    server = live_server_for(app)
    sign_in(page, server.url, "cora-dpo", PASSWORD, secret)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/console/consent")
    assert visible(page.get_by_text("A refusal is a"))  # point 10: refusals are decisions, dated by collection
    for chart in page.locator("svg.chart").all():
        labels = [t for t in chart.locator("text").all() if t.is_visible()]
        boxes = [t.bounding_box() for t in labels]
        assert all(box["height"] >= 10 for box in boxes)  # drawn at a legible size on the screen
        bottom = [b for b in boxes if b["y"] > max(x["y"] for x in boxes) - 5]  # the week labels
        bottom.sort(key=lambda b: b["x"])
        for left, right in itertools.pairwise(bottom):
            assert left["x"] + left["width"] <= right["x"], "week labels overlap"
        chart_box = chart.bounding_box()
        right_edge = chart_box["x"] + chart_box["width"] + 1
        outside = [b for b in boxes if b["x"] < chart_box["x"] - 1 or b["x"] + b["width"] > right_edge]
        assert not outside, (chart_box, outside)
    check_page(page, "console-consent-phone")
