"""The staff console through the Flask test client."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from flask import Flask


def _seal(app: Flask) -> None:
    """Seal pending audit entries, sign a checkpoint and store a verification report (what the periodic jobs
    do)."""
    from tests.e2e.helpers import seal_audit_log

    seal_audit_log(app)


def test_console_requires_staff(client, make_subject, login_subject):
    login_subject(client, make_subject())
    assert client.get("/console").status_code in (403, 404)
    assert client.get("/console/audit").status_code in (403, 404)


def test_auditor_without_second_factor_is_refused(client, login_staff):
    login_staff(client, "auditor", mfa=False)
    assert client.get("/console/audit").status_code == 403


def test_auditor_filters_pages_and_opens_an_entry(app, client, make_subject, login_staff):
    for _ in range(3):
        make_subject()
    _seal(app)
    login_staff(client, "auditor")
    html = client.get("/console/audit").get_data(as_text=True)
    assert "Audit log" in html
    assert "Latest signed checkpoint" in html
    assert "audit-alarm" not in html
    assert html.count("vault.subject.create") >= 3

    html = client.get("/console/audit?action=vault.subject").get_data(as_text=True)
    assert "(filtered)" in html
    seqs = re.findall(r'href="/console/audit/(\d+)"', html)
    assert len(seqs) == 3
    entry = client.get(f"/console/audit/{seqs[0]}").get_data(as_text=True)
    assert "Leaf hash" in entry
    assert "vault.subject.create" in entry
    assert client.get("/console/audit/999999").status_code == 404
    assert client.get("/console/audit?since=yesterday").status_code == 422

    export = re.search(r'href="(/api/v1/audit/export\?[^"]*format=csv[^"]*)"', html)
    assert export, "export link"
    response = client.get(export.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.data.count(b"vault.subject.create") >= 3


def test_alarm_after_the_next_verification_when_an_audit_row_is_altered(app, client, make_subject, login_staff):
    from governance.audit import service as audit_service
    from governance.jobs.worker import drain
    from tests.fixtures.access import csrf_token_from

    make_subject()
    _seal(app)
    login_staff(client, "auditor")
    assert "audit-alarm" not in client.get("/console/audit").get_data(as_text=True)
    engine = app.extensions["governance.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # an attacker with DBA rights
        conn.execute(sa.text("UPDATE audit_entries SET action = 'vault.subject.read' WHERE seq = 0"))
    # pages show the stored report: the alarm waits for the next verification (periodic, or "Verify now")
    html = client.get("/console/audit").get_data(as_text=True)
    assert 'id="audit-alarm"' not in html
    response = client.post("/console/audit/verify", data={"csrf_token": csrf_token_from(html)})
    assert response.status_code == 303
    assert drain(app, kinds=["audit.verify"]) == 1
    html = client.get("/console/audit").get_data(as_text=True)
    assert 'id="audit-alarm"' in html
    assert "verification FAILED" in html
    assert "The whole log" in html
    # every console page shows it
    assert 'id="audit-alarm"' in client.get("/console").get_data(as_text=True)
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        asked, _ = audit_service.search(session, audit_service.SearchFilters(action_prefix="audit.verification."))
        session.close()
    assert [item["entry"]["action"] for item in asked] == ["audit.verification.requested"]


def test_console_says_when_the_log_was_not_verified_yet(app, client, make_subject, login_staff):
    make_subject()
    login_staff(client, "auditor")
    html = client.get("/console/audit").get_data(as_text=True)
    assert "not yet verified" in html
    assert 'id="audit-alarm"' not in html
    assert "Not yet" in client.get("/console").get_data(as_text=True)


def test_request_queue_detail_and_extension(app, client, make_subject, login_staff, login_subject):
    from tests.fixtures.access import csrf_token_from

    person = app.test_client()
    login_subject(person, make_subject())
    token = csrf_token_from(person.get("/me/requests").get_data(as_text=True))
    person.post("/me/requests/rectify", data={"field": "country", "value": "FR", "csrf_token": token})
    person.post("/me/requests/erase", data={"confirm": "yes", "csrf_token": token})

    login_staff(client, "dpo")
    html = client.get("/console/requests").get_data(as_text=True)
    assert "Erasure" in html
    assert "Rectification" not in html  # closed at once; the default view shows open requests
    assert "Rectification" in client.get("/console/requests?status=all").get_data(as_text=True)
    link = re.search(r'href="(/console/requests/[0-9a-f-]{36})"', html).group(1)
    detail = client.get(link).get_data(as_text=True)
    assert "Timeline" in detail
    assert "Extend the deadline" in detail
    response = client.post(
        f"{link}/extend", data={"reason": "Many systems to search", "csrf_token": csrf_token_from(detail)}
    )
    assert response.status_code == 303
    detail = client.get(link).get_data(as_text=True)
    assert "Deadline extended by" in detail
    assert "Many systems to search" in detail


def test_policies_and_records_of_processing(client, login_staff):
    login_staff(client, "auditor")
    html = client.get("/console/policies").get_data(as_text=True)
    assert "Personalized recommendations" in html
    assert "access/90_guardrails.cedar" in html
    html = client.get("/console/records").get_data(as_text=True)
    assert "Records of processing activities" in html
    assert "Security measures" in html
    document = client.get("/console/records/download.html")
    assert "attachment" in document.headers["Content-Disposition"]
    assert b"Personalized recommendations" in document.data
    assert client.get("/console/records/download.json").get_json()["activities"]
    assert client.get("/console/records/download.exe").status_code == 422


def test_admin_rotates_the_master_key_with_progress(app, client, make_subject, login_staff):
    from governance.jobs.worker import drain
    from tests.fixtures.access import csrf_token_from

    make_subject()
    make_subject()
    login_staff(client, "admin")
    page = client.get("/console/admin").get_data(as_text=True)
    assert "Rotate the master key" in page
    response = client.post("/console/admin/keys/rotate", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    page = client.get("/console/admin").get_data(as_text=True)
    assert "data-poll-url" in page  # re-wrapping runs in the background with progress
    assert client.get("/console/admin/keys/rotation").get_json()["finished"] is False
    drain(app)
    status = client.get("/console/admin/keys/rotation").get_json()
    assert status["finished"] is True
    assert status["done"] == status["total"] == 2
    # The key file outlives the tables between tests, so the new version number depends on earlier rotations.
    target = re.search(r"Rotation to version (\d+)", status["message"]).group(1)
    assert f"Version {target}" in client.get("/console/admin").get_data(as_text=True)


def test_auditor_may_not_rotate_keys(client, login_staff):
    login_staff(client, "auditor")
    assert "Rotate the master key" not in client.get("/console/admin").get_data(as_text=True)
    assert client.post("/console/admin/keys/rotate").status_code in (400, 403)


def test_request_timeline_includes_the_steps_recorded_in_the_audit_log(
    app, client, make_subject, login_staff, login_subject
):
    from governance.jobs.worker import drain
    from tests.fixtures.access import csrf_token_from

    person = app.test_client()
    login_subject(person, make_subject())
    token = csrf_token_from(person.get("/me/requests").get_data(as_text=True))
    person.post("/me/requests/erase", data={"confirm": "yes", "csrf_token": token})
    drain(app)
    _seal(app)
    login_staff(client, "dpo")
    html = client.get("/console/requests?status=all").get_data(as_text=True)
    link = re.search(r'href="(/console/requests/[0-9a-f-]{36})"', html).group(1)
    detail = client.get(link).get_data(as_text=True)
    assert "Data erased (keys destroyed)" in detail
    assert "Erasure certificate issued" in detail
    assert "Extend the deadline" not in detail  # closed requests cannot be extended


def test_support_sees_only_the_sections_it_may_open(client, login_staff):
    login_staff(client, "support")
    html = client.get("/console").get_data(as_text=True)
    assert 'href="/console/requests"' in html
    assert 'href="/console/audit"' not in html
    assert 'href="/console/budgets"' not in html
    assert client.get("/console/audit").status_code == 403


def test_overdue_requests_are_highlighted_first(app, client, make_subject, login_staff):
    import datetime as dt

    from governance.access.principals import Principal
    from governance.requests import service as requests

    subject_id = make_subject()
    staff = Principal(kind="staff", id="support-desk", roles=frozenset({"support"}))
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            requests.file_request(
                session,
                subject_id=subject_id,
                kind="erasure",
                actor=staff,
                source="staff",
                verification_method=None,  # identity not verified yet: the request stays open
                now=dt.datetime.now(dt.UTC) - dt.timedelta(days=60),
            )
        session.close()
    login_staff(client, "dpo")
    html = client.get("/console/requests").get_data(as_text=True)
    assert "1 overdue" in html
    assert 'class="is-overdue"' in html
    assert "badge--bad" in html  # "overdue" as text too, not only colour
    assert 'id="audit-alarm"' not in html
    overview = client.get("/console").get_data(as_text=True)
    assert re.search(r'>Open requests</h2>\s*<p class="stat">1</p>', overview)


def test_refused_extension_is_explained_on_the_page(app, client, make_subject, login_staff):
    from tests.e2e.helpers import file_overdue_request
    from tests.fixtures.access import csrf_token_from

    file_overdue_request(app, make_subject())
    login_staff(client, "dpo")
    html = client.get("/console/requests").get_data(as_text=True)
    link = re.search(r'href="(/console/requests/[0-9a-f-]{36})"', html).group(1)
    detail = client.get(link).get_data(as_text=True)
    # past the first period the law allows no extension: the service refuses and the page says why
    response = client.post(
        f"{link}/extend", data={"reason": "Too late to extend now", "csrf_token": csrf_token_from(detail)}
    )
    assert response.status_code == 303
    assert "Not extended:" in client.get(link).get_data(as_text=True)


def test_audit_filter_by_http_request_id(app, client, make_subject, login_subject, login_staff):
    from governance.audit import service as audit_service
    from tests.fixtures.access import csrf_token_from

    person = app.test_client()
    login_subject(person, make_subject())
    token = csrf_token_from(person.get("/me/consent").get_data(as_text=True))
    response = person.post(
        "/me/consent/product_analytics", data={"decision": "grant", "notice_version": "1", "csrf_token": token}
    )
    request_id = response.headers.get("X-Request-Id")
    _seal(app)
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        entries, _ = audit_service.search(session, audit_service.SearchFilters(action_prefix="consent."))
        session.close()
    request_id = request_id or entries[0]["entry"]["request_id"]
    login_staff(client, "auditor")
    html = client.get(f"/console/audit?request_id={request_id}").get_data(as_text=True)
    assert '<td class="mono" data-label="Action">consent.decision.recorded</td>' in html
    assert '<td class="mono" data-label="Action">vault.subject.create</td>' not in html


def _page_seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'href="/console/audit/(\d+)"', html)]


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]*)" rel="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_audit_log_pages_forwards_and_backwards(app, client, login_staff, monkeypatch):
    from governance import audit
    from governance.access.principals import ActorRef
    from governance.web.console import audit_log

    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            for i in range(130):
                action = "web.paging.rare" if i % 10 == 0 else "web.paging.common"
                audit.record(session, actor=ActorRef("system", "paging"), action=action, target=None)
        session.close()
    _seal(app)
    login_staff(client, "auditor")
    monkeypatch.setattr(audit_log, "AUDIT_PAGE_SIZE", 4)

    for start in (
        "/console/audit?action=web.paging&order=oldest",
        "/console/audit?action=web.paging.rare&order=oldest",
    ):
        forward: list[list[int]] = []
        url: str | None = start
        while url:
            html = client.get(url).get_data(as_text=True)
            forward.append(_page_seqs(html))
            if len(forward) == 1:
                assert _link(html, "prev") is None
            url = _link(html, "next")
        everything = [seq for page in forward for seq in page]
        assert everything == sorted(everything)
        assert len(set(everything)) == len(everything)
        assert len(everything) == (130 if "paging&" in start else 13)

        backward, last_url = [_page_seqs(html)], None
        while url := _link(html, "prev"):
            html, last_url = client.get(url).get_data(as_text=True), url
            backward.append(_page_seqs(html))
        assert list(reversed(backward)) == forward  # the same pages, walked back to the first
        assert "after=" not in (last_url or "")  # the first page's own address

    # past the end: "Previous page" leads back to the last entries
    html = client.get("/console/audit?action=web.paging.rare&order=oldest&after=100000").get_data(as_text=True)
    assert "No entries match beyond this point." in html
    html = client.get(_link(html, "prev")).get_data(as_text=True)
    assert _page_seqs(html) == everything[-4:]


def test_policies_page_states_every_value_in_plain_words(client, login_staff):
    login_staff(client, "dpo")
    html = client.get("/console/policies").get_data(as_text=True)
    assert "{'" not in html
    assert "months':" not in html
    assert "Answer within 1 month of receiving the request." in html
    assert "May be extended by up to 2 months in total" in html
    assert "Answer within 45 days of receiving the request." in html
    assert "Confirm receipt within 10 business days." in html
    assert "May be extended once, by up to 45 days in total" in html
    assert "California (United States)" in html
    assert "Switzerland" in html
    assert "Kept for" in html
    assert "2 years" in html
    assert "Retention (days)" not in html
    assert "<strong>Purchase</strong>: kept for 10 years" in html
    assert "in groups of at least 10 people" in html


def test_a_failed_training_job_shows_its_reason_and_what_to_do(app, client, make_subject, login_staff):
    from tests.e2e.helpers import train_small_model

    train_small_model(app, make_subject, people=2)  # far too few people: the job fails for good
    login_staff(client, "dpo")
    html = client.get("/console/releases").get_data(as_text=True)
    assert "No report (the job did not produce a model)" not in html
    assert "Why it failed:" in html
    assert "reason code <code>too_few_examples</code>" in html
    assert "Wait until more people have consented" in html


def _seed_paging_entries(app: Flask, count: int = 130) -> None:
    from governance import audit
    from governance.access.principals import ActorRef

    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            for i in range(count):
                action = "web.paging.rare" if i % 10 == 0 else "web.paging.common"
                audit.record(session, actor=ActorRef("system", "paging"), action=action, target=None)
        session.close()
    _seal(app)


def test_audit_log_is_newest_first_by_default_and_pages_both_ways(app, client, login_staff, monkeypatch):
    from governance.web.console import audit_log

    _seed_paging_entries(app)
    login_staff(client, "auditor")
    monkeypatch.setattr(audit_log, "AUDIT_PAGE_SIZE", 4)
    for start, expected in (("/console/audit?action=web.paging", 130), ("/console/audit?action=web.paging.rare", 13)):
        pages: list[list[int]] = []
        url: str | None = start
        while url:
            html = client.get(url).get_data(as_text=True)
            pages.append(_page_seqs(html))
            if len(pages) == 1:
                assert _link(html, "prev") is None  # the default page holds the newest entries
                assert "newest first" in html
            url = _link(html, "next")
        everything = [seq for page in pages for seq in page]
        assert everything == sorted(everything, reverse=True)
        assert len(set(everything)) == len(everything) == expected
        back = [_page_seqs(html)]
        while url := _link(html, "prev"):
            html = client.get(url).get_data(as_text=True)
            back.append(_page_seqs(html))
        assert list(reversed(back)) == pages  # "Newer entries" walks the same pages back to the newest


def test_audit_log_jumps_to_a_position_or_a_day(app, client, login_staff, monkeypatch):
    from governance.web.console import audit_log

    _seed_paging_entries(app, 20)
    login_staff(client, "auditor")
    monkeypatch.setattr(audit_log, "AUDIT_PAGE_SIZE", 5)
    html = client.get("/console/audit?position=7").get_data(as_text=True)
    assert _page_seqs(html) == [7, 6, 5, 4, 3]
    assert _link(html, "prev") is not None  # newer entries exist above the jump
    html = client.get("/console/audit?action=web.paging.rare&position=15").get_data(as_text=True)
    rare = _page_seqs(html)
    assert rare
    assert max(rare) <= 15
    today = dt.datetime.now(dt.UTC).date()
    newest = _page_seqs(client.get("/console/audit").get_data(as_text=True))
    assert _page_seqs(client.get(f"/console/audit?date={today}").get_data(as_text=True)) == newest
    yesterday = today - dt.timedelta(days=1)
    assert "No entries match" in client.get(f"/console/audit?date={yesterday}").get_data(as_text=True)
    assert client.get("/console/audit?position=-3").status_code == 422
    assert client.get("/console/audit?date=soon").status_code == 422
    assert client.get("/console/audit?order=sideways").status_code == 422
