"""Pages are for people (issue 19, finding 1): an OAuth client's bearer token never opens an HTML page, whatever
its scopes; staff and subject sessions still do. The route matrix (test_route_matrix.py) checks every page; this
file replays the reported ones through the real views."""

from __future__ import annotations

import pytest
from flask import Flask

from governance.access.principals import Principal
from governance.db import transaction
from tests.access.access_doc import SCOPES

PURPOSE = "personalized_recommendations"


def _subject_with_request(app: Flask):  # type: ignore[no-untyped-def]
    from governance.requests import service as requests
    from governance.vault import service as vault

    with app.test_request_context(), app.extensions["governance.db"].session() as session:
        with transaction(session):
            subject = vault.create_subject(
                session, external_ref="pages-a", actor=Principal.system("tests"), jurisdiction="EU"
            ).id
        with transaction(session):
            filed = requests.file_request(
                session,
                subject_id=subject,
                kind="access",
                actor=Principal(kind="subject", id="s-1", subject_id=subject),
                source="subject",
                verification_method="session",
            )
    return subject, filed.request.id


def _pages(request_id: object) -> list[str]:
    return [
        "/console/requests?status=all",
        f"/console/requests/{request_id}",
        "/console/releases",
        "/console/budgets",
        "/console/consent",
        f"/me/requests/{request_id}/status",
        "/console",
        "/me",
    ]


def test_a_bearer_token_with_every_scope_opens_no_page(app: Flask, bearer) -> None:
    _, request_id = _subject_with_request(app)
    token = bearer(SCOPES, [PURPOSE])
    client = app.test_client()
    for page in _pages(request_id):
        for accept in ("text/html", "application/json"):
            response = client.get(page, headers={**token, "Accept": accept})
            assert response.status_code == 401, (page, response.status_code)
            assert "Location" not in response.headers
            if accept == "application/json":
                assert response.get_json()["error"] == "bearer_not_accepted"
            assert str(request_id) not in response.get_data(as_text=True)
    # The same token still works where it belongs, and sees there only what it filed (nothing here).
    listed = client.get("/api/v1/requests", headers=token)
    assert (listed.status_code, listed.get_json()["requests"]) == (200, [])
    assert client.get(f"/api/v1/requests/{request_id}", headers=token).status_code == 404


def test_staff_and_subject_sessions_still_open_their_pages(app: Flask, login_staff, login_subject, bearer) -> None:
    subject, request_id = _subject_with_request(app)
    dpo = app.test_client()
    login_staff(dpo, "dpo")
    for page in _pages(request_id)[:5]:
        assert dpo.get(page).status_code == 200, page
    person = app.test_client()
    login_subject(person, subject)
    assert person.get(f"/me/requests/{request_id}/status").status_code == 200
    # A bearer header next to a session changes nothing: the session decides, the token is ignored.
    assert person.get("/console/requests", headers=bearer(SCOPES, [PURPOSE])).status_code in (302, 403, 404)


@pytest.mark.parametrize("path", ["/me/requests/export", "/logout"])
def test_a_bearer_header_does_not_exempt_a_page_form_from_csrf(app: Flask, login_subject, login_staff, bearer, path):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    if path.startswith("/me"):
        subject, _ = _subject_with_request(app)
        login_subject(browser, subject)
    else:
        login_staff(browser, "support")
    response = browser.post(path, headers=bearer(["requests:write"]), data={})
    assert response.status_code == 400, response.status_code  # the CSRF refusal, not the view
