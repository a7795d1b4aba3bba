"""A DPO works a request from the console: sees whose it is (masked), verifies identity (recording how),
confirms receipt, assigns an owner, writes internal notes, rejects with a reason the person reads, and
extends by a chosen amount. Every action is audited without the note's text; notes go with the person."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from flask import Flask

from tests.e2e.helpers import file_overdue_request
from tests.fixtures.access import csrf_token_from

NOTE = "Called the requester back; wants the CRM copy too"


def _request_url(client) -> str:
    html = client.get("/console/requests?status=all").get_data(as_text=True)
    return re.search(r'href="(/console/requests/[0-9a-f-]{36})"', html).group(1)


def _post(client, url: str, **form: str):
    token = csrf_token_from(client.get(url.rsplit("/", 1)[0]).get_data(as_text=True))
    return client.post(url, data={**form, "csrf_token": token})


def _audit_rows(app: Flask, prefix: str) -> list[sa.Row]:
    with app.extensions["governance.db"].engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT action, details FROM audit_entries WHERE action LIKE :p ORDER BY id"), {"p": prefix + "%"}
        ).all()


def test_a_dpo_verifies_assigns_notes_and_rejects_a_request(app, client, make_subject, login_staff):
    subject = make_subject(profile={"name": "Jana Novak", "email": "jana@example.org"})
    file_overdue_request(app, subject, days_ago=2)
    dpo_id = login_staff(client, "dpo")
    url = _request_url(client)
    page = client.get(url).get_data(as_text=True)
    assert "Whose request" in page
    assert "jana@example.org" not in page  # masked for the DPO's console view
    assert "Jana Novak" not in page
    assert f"Person {str(subject)[:8]}" in page

    assert _post(client, f"{url}/owner", owner=str(dpo_id)).status_code == 303
    assert _post(client, f"{url}/notes", text=NOTE).status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert f'<option value="{dpo_id}" selected>' in page
    assert "Nobody yet" not in page
    assert NOTE in page
    assert _post(client, f"{url}/verify", method="id_document").status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "An identity document was checked and not kept" in page
    assert "Verify identity and start" not in page  # done once

    notes_audit = _audit_rows(app, "requests.note")
    assert len(notes_audit) == 1
    assert NOTE not in str(notes_audit[0].details)  # the text stays in the request, not the audit log
    assert [r.action for r in _audit_rows(app, "requests.request.assigned")] == ["requests.request.assigned"]


def test_a_dpo_rejects_with_a_reason_the_person_reads(app, client, make_subject, login_staff, login_subject):
    subject = make_subject()
    file_overdue_request(app, subject, days_ago=2)
    login_staff(client, "dpo")
    url = _request_url(client)
    page = client.get(url).get_data(as_text=True)
    assert "The person reads:" in page
    response = _post(client, f"{url}/reject", code="identity_not_verified")
    assert response.status_code == 303
    assert "Request rejected" in client.get(response.headers["Location"]).get_data(as_text=True)
    person = app.test_client()
    login_subject(person, subject)
    assert "We could not confirm that this request comes from you" in person.get("/me/requests").get_data(as_text=True)
    # a closed request offers no actions, and a forged post is refused without a 500
    assert "Reject with this reason" not in client.get(url).get_data(as_text=True)
    response = _post(client, f"{url}/reject", code="excessive")
    assert response.status_code == 303
    assert "Not done:" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_extension_by_a_chosen_amount_within_the_legal_maximum(app, client, make_subject, login_staff):
    subject = make_subject()
    file_overdue_request(app, subject, days_ago=2)
    login_staff(client, "dpo")
    url = _request_url(client)
    page = client.get(url).get_data(as_text=True)
    assert '<option value="1">1 month</option>' in page
    assert '<option value="2" selected>2 months</option>' in page
    response = _post(client, f"{url}/extend", amount="1", reason="Several linked accounts to search")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Deadline extended by 1 month" in page
    assert "Extension still available</dt><dd>1 month" in page
    assert _post(client, f"{url}/extend", amount="5", reason="Several linked accounts to search").status_code == 422


def test_bad_choices_are_refused_and_other_roles_may_not_act(app, client, make_subject, login_staff):
    file_overdue_request(app, make_subject(), days_ago=2)
    login_staff(client, "dpo")
    url = _request_url(client)
    assert _post(client, f"{url}/verify", method="<script>").status_code == 422
    assert _post(client, f"{url}/owner", owner=str(uuid.uuid4())).status_code == 422
    response = _post(client, f"{url}/notes", text="   ")
    assert response.status_code == 303
    assert "Not done:" in client.get(response.headers["Location"]).get_data(as_text=True)
    support = app.test_client()
    login_staff(support, "support")
    page = support.get(url).get_data(as_text=True)
    assert "Work on this request" not in page
    assert "Internal notes" not in page
    token = csrf_token_from(page)
    assert support.post(f"{url}/notes", data={"text": "x", "csrf_token": token}).status_code == 403


def test_notes_are_deleted_when_the_person_is_erased(app, client, make_subject, login_staff):
    from governance.jobs.worker import drain
    from governance.requests import service as requests
    from governance.requests.models import RequestNote

    subject = make_subject()
    file_overdue_request(app, subject, days_ago=2)
    login_staff(client, "dpo")
    url = _request_url(client)
    _post(client, f"{url}/notes", text=NOTE)
    _post(client, f"{url}/verify", method="known_details")  # the erasure starts
    while drain(app):
        pass
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        assert session.scalar(sa.select(sa.func.count()).select_from(RequestNote)) == 0
        view = requests.get_request(session, uuid.UUID(url.rsplit("/", 1)[-1]))
        session.close()
    assert "request_notes" in view.result["deleted"]
