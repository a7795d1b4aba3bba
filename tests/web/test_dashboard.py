"""The dashboard through the Flask test client (the browser tests cover the same flows in Chromium)."""

from __future__ import annotations

import json
import re

from tests.fixtures.access import csrf_token_from
from tests.web.conftest import PROFILE


def _form_post(client, page_path: str, action: str, data: dict) -> object:
    token = csrf_token_from(client.get(page_path).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token})


def test_dashboard_needs_a_session(client):
    response = client.get("/me")
    assert response.status_code in (302, 401, 403)


def test_the_front_page_says_when_a_dashboard_session_ended_and_where_a_fresh_link_comes_from(
    client, make_subject, login_subject
):
    from tests.fixtures.access import csrf_token_from

    assert "session-ended" not in client.get("/").get_data(as_text=True)  # arriving directly: no note

    login_subject(client, make_subject())
    page = client.get("/me/consent").get_data(as_text=True)
    response = client.post("/dashboard/logout", data={"csrf_token": csrf_token_from(page)})
    assert response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "<title>Signed out" in html
    assert "You signed out of your privacy dashboard" in html
    assert "get a fresh link from your account in our app" in html

    for path in ("/me", "/me/consent", "/me/usage"):  # a bookmark or an old tab, after the session ended
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/"  # the front page; nothing about the person in the URL
        html = client.get("/").get_data(as_text=True)
        assert "<title>Session ended" in html
        assert "Your dashboard session has ended" in html
        assert "get a fresh link from your account in our app" in html
        assert "Staff sign-in" in html  # still the front page
        assert PROFILE["email"] not in html
        assert PROFILE["name"] not in html
        assert "session-ended" not in client.get("/").get_data(as_text=True)  # said once, not on every visit


def test_consent_page_lists_purposes_with_basis_notice_and_history(app, client, make_subject, login_subject):
    subject_id = make_subject()
    login_subject(client, subject_id)
    page = client.get("/me/consent")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Personalized recommendations" in html
    assert "Legal basis: Your consent" in html
    assert "/me/consent/notices/personalized_recommendations/v2" in html
    assert "Global Privacy Control" in html
    assert PROFILE["email"] not in html

    response = _form_post(
        client,
        "/me/consent",
        "/me/consent/personalized_recommendations",
        {"decision": ["withdraw", "grant"], "notice_version": "2"},
    )
    assert response.status_code == 303
    saved = re.search(r"saved=([0-9a-f-]{36})", response.headers["Location"]).group(1)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved: Personalized recommendations is on." in html
    assert f"/me/consent/receipts/{saved}/view" in html
    readable = client.get(f"/me/consent/receipts/{saved}/view").get_data(as_text=True)
    assert "What you decided" in readable
    assert "Allowed" in readable
    assert f'href="/me/consent/receipts/{saved}"' in readable  # the signed JSON beside the readable page
    receipt = client.get(f"/me/consent/receipts/{saved}")
    assert receipt.status_code == 200
    assert "attachment" in receipt.headers["Content-Disposition"]
    body = json.loads(receipt.get_data(as_text=True))
    assert body["jws"].count(".") == 2

    # turning it off: only the hidden "withdraw" value is sent when the checkbox is unchecked
    response = _form_post(
        client,
        "/me/consent",
        "/me/consent/personalized_recommendations",
        {"decision": "withdraw", "notice_version": "2"},
    )
    assert response.status_code == 303
    html = client.get("/me/consent").get_data(as_text=True)
    assert html.count("Personalized recommendations") >= 3  # switch, receipts, history
    assert "Not allowed" in html
    assert "Allowed" in html


def test_consent_post_without_csrf_is_refused(client, make_subject, login_subject):
    login_subject(client, make_subject())
    response = client.post(
        "/me/consent/personalized_recommendations", data={"decision": "grant", "notice_version": "2"}
    )
    assert response.status_code == 400


def test_receipt_of_another_subject_is_not_found(app, client, make_subject, login_subject):
    other = app.test_client()
    login_subject(other, make_subject())
    response = _form_post(
        other, "/me/consent", "/me/consent/product_analytics", {"decision": "grant", "notice_version": "1"}
    )
    saved = re.search(r"saved=([0-9a-f-]{36})", response.headers["Location"]).group(1)
    login_subject(client, make_subject())
    assert client.get(f"/me/consent/receipts/{saved}").status_code == 404


def test_notice_page_shows_the_notice_text(client, make_subject, login_subject):
    login_subject(client, make_subject())
    response = client.get("/me/consent/notices/personalized_recommendations/v1")
    assert response.status_code == 200
    assert "notice version 1" in response.get_data(as_text=True)
    assert client.get("/me/consent/notices/personalized_recommendations/v9").status_code == 404


def _grant(app, subject_id, purpose, notice_version=None):
    from governance.access.principals import ActorRef
    from governance.consent import service as consent

    decision = {"purpose": purpose, "decision": "granted"}
    if notice_version is not None:
        decision["notice_version"] = notice_version
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            consent.record_decisions(
                session, subject_id, [decision], method="api", actor=ActorRef("system", "t"), jurisdiction="EU"
            )
        session.close()


def test_consent_given_to_an_old_notice_needs_renewal(app, client, make_subject, login_subject):
    subject_id = make_subject()
    _grant(app, subject_id, "personalized_recommendations", notice_version=1)
    login_subject(client, subject_id)
    html = client.get("/me/consent").get_data(as_text=True)
    assert "Needs renewed consent:" in html
    assert "Recommendations now also use your searches in the app." in html  # what changed, from the policy
    assert "Your consent needs renewing" in client.get("/me").get_data(as_text=True)


def test_global_privacy_control_signal_is_honoured(app, client, make_subject, login_subject):
    subject_id = make_subject()
    _grant(app, subject_id, "partner_sharing")
    login_subject(client, subject_id)
    html = client.get("/me/consent", headers={"Sec-GPC": "1"}).get_data(as_text=True)
    assert "Your browser sends a Global Privacy Control signal." in html
    assert "Off because of Global Privacy Control." in html
    history = html[html.index("History of your decisions") :]
    assert "Global Privacy Control signal" in history  # the withdrawal is recorded with its method


def test_activity_is_counted_by_kind_and_month(app, client, make_subject, login_subject):
    import datetime as dt

    from governance.access.principals import ActorRef
    from governance.vault import service as vault

    subject_id = make_subject()
    now = dt.datetime.now(dt.UTC)
    events = [
        {
            "event_id": f"e{i}",
            "category": "view",
            "occurred_at": (now - dt.timedelta(minutes=i)).isoformat(),
            "item_id": "sku-1",
        }
        for i in range(3)
    ] + [{"event_id": "s1", "category": "search", "occurred_at": now.isoformat()}]
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            report = vault.ingest_events(
                session, subject_id, events, actor=ActorRef("system", "t"), lawful_categories={"view", "search"}
            )
        session.close()
    assert report.accepted == 4, report
    login_subject(client, subject_id)
    html = client.get("/me").get_data(as_text=True)
    assert now.strftime("%B %Y") in html
    # the all-time total comes first, then the current month (newest first)
    month = now.strftime("%B %Y")
    assert f'<td class="num" data-label="All time">3</td><td class="num" data-label="{month}">3</td>' in html
    assert f'<td class="num" data-label="All time">1</td><td class="num" data-label="{month}">1</td>' in html
