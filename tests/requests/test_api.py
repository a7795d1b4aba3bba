"""The HTTP API of data subject requests, through real authentication: subject sessions, the product backend's
OAuth client (requests:write), support and DPO staff. Bad input gets stable JSON errors, never a 500."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import update

from governance.db import utcnow
from governance.requests.models import DownloadLink

API = "/api/v1/requests"


@pytest.fixture
def subject_client(app, login_subject, csrf_headers):
    """A browser signed in as `subject_id`, and the CSRF header its API writes need."""

    def make(subject_id: uuid.UUID):
        browser = app.test_client()
        login_subject(browser, subject_id)
        return browser, csrf_headers(browser)

    return make


def test_subject_files_and_duplicates_merge(make_subject, subject_client) -> None:
    alpha, bravo = make_subject("alpha", events=0), make_subject("bravo", events=0)
    browser, csrf = subject_client(alpha)
    first = browser.post(API, json={"kind": "erasure"}, headers=csrf)
    assert first.status_code == 201, first.json
    body = first.json
    assert (body["status"], body["source"], body["verification_method"]) == ("in_progress", "subject", "session")
    assert body["due_on"]
    assert body["days_left"] >= 27
    again = browser.post(API, json={"kind": "erasure"}, headers=csrf)
    assert again.status_code == 200
    assert again.json["id"] == body["id"]
    assert again.json["merged_count"] == 1
    assert browser.get(f"{API}/{body['id']}").status_code == 200
    listed = browser.get(API).json["requests"]
    assert [r["id"] for r in listed] == [body["id"]]
    # another subject's session never sees it, and cannot file for someone else
    other, other_csrf = subject_client(bravo)
    assert other.get(f"{API}/{body['id']}").status_code == 404
    assert other.get(API).json["requests"] == []
    assert other.post(API, json={"kind": "access", "subject_id": str(alpha)}, headers=other_csrf).status_code == 404


def test_backend_must_say_how_it_verified_identity(app, make_subject, bearer) -> None:
    alpha = make_subject("alpha", events=0)
    client = app.test_client()
    headers = bearer(["requests:write"])
    missing = client.post(API, json={"kind": "access", "subject_id": str(alpha)}, headers=headers)
    assert missing.status_code == 422
    assert missing.json["fields"] == {"verification_method": "required"}
    filed = client.post(
        API,
        json={"kind": "access", "external_ref": "ref-alpha", "verification_method": "account_login"},
        headers=headers,
    )
    assert filed.status_code == 201, filed.json
    assert (filed.json["source"], filed.json["verification_method"]) == ("client", "account_login")
    assert client.get(f"{API}/{filed.json['id']}", headers=headers).status_code == 200
    # another client with the same scope does not see requests it did not file
    assert client.get(f"{API}/{filed.json['id']}", headers=bearer(["requests:write"])).status_code == 404
    # a client without the scope may not file at all
    denied = client.post(
        API,
        json={"kind": "access", "subject_id": str(alpha), "verification_method": "x"},
        headers=bearer(["consents:write"]),
    )
    assert denied.status_code in (403, 404)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "teleport"}, 422, "unknown_kind"),
        ({"kind": "access", "subject_id": "not-a-uuid", "verification_method": "x"}, 422, "validation_failed"),
        ({"kind": "access", "verification_method": "x"}, 422, "validation_failed"),
        ({"kind": "access", "external_ref": "nobody", "verification_method": "x"}, 404, "subject_not_found"),
        ({"kind": "access", "subject_id": str(uuid.uuid4()), "verification_method": "x"}, 404, None),
        ({"kind": "objection", "external_ref": "ref-alpha", "verification_method": "x", "purposes": []}, 422, None),
        (
            {"kind": "access", "external_ref": "ref-alpha", "verification_method": "x", "colour": "red"},
            422,
            "unknown_field",
        ),
    ],
)
def test_bad_input_gets_a_stable_error(app, make_subject, bearer, body, status, code) -> None:
    make_subject("alpha", events=0)
    if body.get("kind") == "teleport":
        body = {**body, "external_ref": "ref-alpha", "verification_method": "x"}
    response = app.test_client().post(API, json=body, headers=bearer(["requests:write"]))
    assert response.status_code == status, response.json
    if code:
        assert response.json["error"] == code
    assert "alpha" not in response.get_data(as_text=True)


def test_request_for_an_erased_subject_says_already_erased(app, make_subject, bearer) -> None:
    from governance.access.principals import Principal
    from governance.db import transaction
    from governance.vault import service as vault

    alpha = make_subject("alpha", events=0)
    with app.app_context():
        db = app.extensions["governance.db"]
        with db.session() as session, transaction(session):
            vault.shred_subject(session, alpha, actor=Principal.system("tests"), reason="test")
    response = app.test_client().post(
        API,
        json={"kind": "erasure", "subject_id": str(alpha), "verification_method": "x"},
        headers=bearer(["requests:write"]),
    )
    assert (response.status_code, response.json["error"]) == (404, "already_erased")


def test_staff_verify_extend_reject(make_subject, staff_client) -> None:
    alpha = make_subject("alpha", events=0)
    support, support_csrf = staff_client("support")
    filed = support.post(API, json={"kind": "access", "subject_id": str(alpha)}, headers=support_csrf)
    assert filed.status_code == 201, filed.json
    request_id = filed.json["id"]
    assert filed.json["status"] == "received"
    # support may open requests but not manage them
    assert support.post(f"{API}/{request_id}/verify", json={"method": "id"}, headers=support_csrf).status_code == 403

    dpo, dpo_csrf = staff_client("dpo")
    no_reason = dpo.post(f"{API}/{request_id}/extend", json={"amount": 1}, headers=dpo_csrf)
    assert (no_reason.status_code, no_reason.json["error"]) == (422, "extension_reason_required")
    too_long = dpo.post(f"{API}/{request_id}/extend", json={"amount": 3, "reason": "complex"}, headers=dpo_csrf)
    assert (too_long.status_code, too_long.json["error"]) == (422, "extension_beyond_maximum")
    extended = dpo.post(f"{API}/{request_id}/extend", json={"amount": 2, "reason": "complex"}, headers=dpo_csrf)
    assert extended.status_code == 200
    assert extended.json["extension_available"] is None
    verified = dpo.post(f"{API}/{request_id}/verify", json={"method": "id_document"}, headers=dpo_csrf)
    assert verified.json["status"] == "in_progress"
    bad_code = dpo.post(f"{API}/{request_id}/reject", json={"code": "nope"}, headers=dpo_csrf)
    assert (bad_code.status_code, bad_code.json["error"]) == (422, "unknown_reason")
    rejected = dpo.post(f"{API}/{request_id}/reject", json={"code": "excessive"}, headers=dpo_csrf)
    assert rejected.json["status"] == "rejected"
    assert rejected.json["outcome_reason"]
    again = dpo.post(f"{API}/{request_id}/reject", json={"code": "excessive"}, headers=dpo_csrf)
    assert (again.status_code, again.json["error"]) == (409, "invalid_transition")


def test_overdue_listing_is_for_staff(app, make_subject, staff_client, subject_client, bearer) -> None:
    alpha = make_subject("alpha", events=0)
    auditor, _ = staff_client("auditor")
    assert auditor.get(f"{API}/overdue").status_code == 200
    assert auditor.get(f"{API}/overdue").json == {"requests": []}
    browser, _ = subject_client(alpha)
    assert browser.get(f"{API}/overdue").status_code in (403, 404)
    assert app.test_client().get(f"{API}/overdue", headers=bearer(["requests:write"])).status_code == 403
    assert app.test_client().get(f"{API}/overdue").status_code == 401


def test_public_documents(app) -> None:
    client = app.test_client()
    schema = client.get(f"{API}/export-schema")
    assert schema.status_code == 200
    assert schema.json["$id"] == "urn:governance:export-bundle:1"
    keys = client.get(f"{API}/certificate-keys").json["keys"]
    assert keys[0]["kty"] == "OKP"
    assert "d" not in keys[0]


def test_download_link_flow(app, make_subject, subject_client, drain) -> None:
    alpha = make_subject("alpha", events=5)
    browser, csrf = subject_client(alpha)
    filed = browser.post(API, json={"kind": "portability"}, headers=csrf)
    request_id = filed.json["id"]
    early = browser.post(f"{API}/{request_id}/download-links", headers=csrf)
    assert (early.status_code, early.json["error"]) == (409, "export_not_ready")
    drain()
    assert browser.get(f"{API}/{request_id}").json["status"] == "completed"
    link = browser.post(f"{API}/{request_id}/download-links", headers=csrf)
    assert link.status_code == 201, link.json
    path = link.json["url"].removeprefix("http://localhost")
    download = browser.get(path)
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    assert "export.json" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    # the same person in another session: the link is bound to the first session
    second_browser, _ = subject_client(alpha)
    assert second_browser.get(path).status_code == 404
    # expired
    with app.app_context():
        db = app.extensions["governance.db"]
        with db.session() as session, session.begin():
            session.execute(update(DownloadLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    gone = browser.get(path)
    assert (gone.status_code, gone.json["error"]) == (410, "link_expired")


def test_certificate_is_served_after_erasure(app, make_app, make_subject, subject_client, staff_client) -> None:
    from governance.jobs.worker import drain as drain_jobs
    from governance.requests.certificate import verify_certificate

    alpha = make_subject("alpha", events=3)
    browser, csrf = subject_client(alpha)
    request_id = browser.post(API, json={"kind": "erasure"}, headers=csrf).json["id"]
    quick = make_app(REQUESTS_PROCESSOR_POLL_MINUTES="0")
    while drain_jobs(quick):
        pass
    dpo, _ = staff_client("dpo")
    view = dpo.get(f"{API}/{request_id}").json
    assert view["status"] == "partially_completed"
    assert view["has_certificate"] is True
    response = dpo.get(f"{API}/{request_id}/certificate")
    assert response.status_code == 200
    keys = app.test_client().get(f"{API}/certificate-keys").json
    from joserfc.jwk import OKPKey

    public = OKPKey.import_key(keys["keys"][0]).get_op_key("verify")
    claims = verify_certificate(response.json["certificate"], [public])
    assert claims.request_id == request_id
    assert claims.sub == str(alpha)


def test_rectification_and_objection_through_the_api(app, make_subject, bearer) -> None:
    from governance.consent import service as consent
    from governance.vault import service as vault
    from tests.requests.conftest import SYSTEM

    alpha = make_subject("alpha", events=0)
    client = app.test_client()
    headers = bearer(["requests:write"])
    fixed = client.post(
        API,
        json={
            "kind": "rectification",
            "external_ref": "ref-alpha",
            "verification_method": "account_login",
            "fields": {"name": "Ada Corrected"},
        },
        headers=headers,
    )
    assert fixed.status_code == 201, fixed.json
    assert (fixed.json["status"], fixed.json["params"]) == ("completed", {"fields": ["name"]})
    assert "Ada Corrected" not in fixed.get_data(as_text=True)
    invalid = client.post(
        API,
        json={
            "kind": "rectification",
            "external_ref": "ref-alpha",
            "verification_method": "x",
            "fields": {"email": "nope"},
        },
        headers=headers,
    )
    assert invalid.status_code == 422
    assert "nope" not in invalid.get_data(as_text=True)
    objected = client.post(
        API,
        json={
            "kind": "objection",
            "external_ref": "ref-alpha",
            "verification_method": "x",
            "purposes": ["marketing_email"],
        },
        headers=headers,
    )
    assert objected.status_code == 201, objected.json
    assert objected.json["status"] == "completed"
    with app.app_context(), app.extensions["governance.db"].session() as session:
        assert vault.read_profile(session, alpha, actor=SYSTEM, view="clear")["fields"]["name"] == "Ada Corrected"
        assert consent.is_permitted(session, alpha, "marketing_email").reason == "objected"
        session.rollback()


def test_overdue_gauge_is_scraped(app, make_subject) -> None:
    from datetime import UTC, datetime

    from governance.db import transaction
    from governance.requests import service
    from tests.requests.conftest import SUPPORT

    alpha = make_subject("alpha", events=0)
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        service.file_request(
            session,
            subject_id=alpha,
            kind="access",
            actor=SUPPORT,
            source="staff",
            verification_method=None,
            now=datetime(2025, 1, 10, 9, 0, tzinfo=UTC),
        )
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'governance_requests_overdue{jurisdiction="GDPR"} 1.0' in text
    assert 'governance_requests_overdue{jurisdiction="CCPA"} 0.0' in text


def test_a_client_that_filed_an_export_follows_it_but_never_downloads_it(
    app, make_subject, bearer, subject_client, drain
) -> None:
    """Least privilege (issue 19, finding 2): the backend that files on the person's behalf gets the status;
    the personal data goes to the person (or a DPO), never to the backend."""
    alpha = make_subject("alpha", events=3)
    client = app.test_client()
    backend = bearer(["requests:write"])
    filed = client.post(
        API, json={"kind": "access", "subject_id": str(alpha), "verification_method": "account_login"}, headers=backend
    )
    assert filed.status_code == 201, filed.json
    request_id = filed.json["id"]
    drain()
    assert client.get(f"{API}/{request_id}", headers=backend).json["status"] == "completed"
    refused = client.post(f"{API}/{request_id}/download-links", headers=backend)
    assert (refused.status_code, refused.json["error"]) == (403, "forbidden")
    assert client.post(f"{API}/{request_id}/download-links", headers=bearer(["requests:write"])).status_code in (
        403,
        404,
    )
    # The person downloads it; the link they get opens nothing for the backend either.
    browser, csrf = subject_client(alpha)
    link = browser.post(f"{API}/{request_id}/download-links", headers=csrf)
    assert link.status_code == 201, link.json
    path = link.json["url"].removeprefix("http://localhost")
    assert client.get(path, headers=backend).status_code in (403, 404)
    download = browser.get(path)
    assert download.status_code == 200
    assert "export.json" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()


def test_a_subject_reads_its_own_export_job_from_any_of_its_sessions(app, make_subject, subject_client) -> None:
    """Issue 19, finding 9: the job belongs to the data subject, not to the session that filed the request."""
    alpha, bravo = make_subject("alpha", events=2), make_subject("bravo", events=0)
    browser, csrf = subject_client(alpha)
    filed = browser.post(API, json={"kind": "access"}, headers=csrf)
    assert filed.status_code == 201, filed.json
    job_id = filed.json["job_id"]
    assert job_id
    own = browser.get(f"/api/v1/jobs/{job_id}")
    assert own.status_code == 200, own.json
    assert own.json["kind"] == "requests.export"
    later_session, _ = subject_client(alpha)
    assert later_session.get(f"/api/v1/jobs/{job_id}").status_code == 200
    stranger, _ = subject_client(bravo)
    assert stranger.get(f"/api/v1/jobs/{job_id}").status_code == 404


def test_request_list_pages_with_an_opaque_keyset_cursor(app, make_subject, bearer) -> None:
    """A client's list is paged newest first with `next_cursor`; every request once, none twice; a bad cursor is a
    422 that does not echo it."""
    client, headers = app.test_client(), bearer(["requests:write"])
    filed = []
    for n in range(7):
        subject = make_subject(f"pager{n}", events=0)
        body = {"kind": "access", "subject_id": str(subject), "verification_method": "account_login"}
        response = client.post(API, json=body, headers=headers)
        assert response.status_code == 201, response.json
        filed.append(response.json["id"])
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, query_string=query, headers=headers)
        assert page.status_code == 200, page.json
        seen += [r["id"] for r in page.json["requests"]]
        pages += 1
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(filed)
    assert len(set(seen)) == len(seen)
    unpaged = client.get(API, headers=headers).json
    assert [r["id"] for r in unpaged["requests"]] == seen
    assert unpaged["next_cursor"] is None
    for bad in ("not-a-cursor!", "bm90aGluZw", "x" * 201):
        refused = client.get(API, query_string={"cursor": bad}, headers=headers)
        assert refused.status_code == 422, bad
        assert bad not in refused.get_data(as_text=True)
