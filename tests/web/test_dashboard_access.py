"""Who accessed my data (issue 13): every kind of access the page promises — a staff member's clear read, a
break-glass grant, the person's export being prepared and a dataset release that included them — listed newest
first with staff by role only, each with an inclusion proof the offline checker accepts. The person's own looks
and other people's entries are not listed. (The browser walk at 1280/390 px is tests/e2e/test_dashboard_person.py::
test_feature_who_accessed_my_data_with_a_proof_checked_offline.)"""

from __future__ import annotations

import re
import uuid

from governance.audit import offline_verify
from tests.e2e.helpers import ACTOR, grant, in_transaction, release_dataset, seal_audit_log
from tests.web.test_dashboard import _form_post

REASON = "Ticket 4711: caller verified by phone"


def _release_including(app, make_subject, person: uuid.UUID) -> None:
    """A dataset release for model training built from the person and eleven others (k = 12 >= 10)."""
    from governance.access import tokens

    for subject_id in [person] + [make_subject() for _ in range(11)]:
        grant(app, subject_id, "model_training")
    scopes, purposes = {"datasets:request"}, {"model_training"}
    in_transaction(
        app,
        lambda s: tokens.register_client(
            s, name="Trainer", scopes=scopes, purposes=purposes, actor=ACTOR, client_id="trainer"
        ),
    )
    release_dataset(app, "trainer", "model_training", ["country"])


def _rows(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return [re.sub(r"<[^>]+>", " ", row) for row in body.split("<tr")[1:]]


def test_every_kind_of_access_is_listed_by_role_with_a_proof_that_verifies_offline(
    app, client, make_subject, login_subject, login_staff, csrf_headers, tmp_path
) -> None:
    from governance.jobs.worker import drain

    person, other = make_subject(), make_subject()
    _release_including(app, make_subject, person)
    support = app.test_client()
    support_id = login_staff(support, "support")
    url = f"/api/v1/subjects/{person}/profile/break-glass"
    assert support.post(url, json={"reason": REASON}, headers=csrf_headers(support)).status_code == 200
    dpo = app.test_client()
    dpo_id = login_staff(dpo, "dpo")
    assert dpo.get(f"/api/v1/subjects/{other}/profile?view=clear").status_code == 200  # someone else's data

    login_subject(client, person)
    assert _form_post(client, "/me", "/me/reveal", {}).status_code == 303  # the person's own look
    assert _form_post(client, "/me/requests", "/me/requests/export", {}).status_code == 303
    while drain(app):
        pass
    seal_audit_log(app)

    html = client.get("/me/access").get_data(as_text=True)
    rows = _rows(html)
    text = " ".join(" ".join(row.split()) for row in rows)
    assert "Our customer support opened your details in an emergency (break-glass)" in text
    assert "Our customer support saw your details in clear" in text  # the break-glass read itself
    assert "Emergency access:" in text
    assert "Our systems prepared the copy of your data you asked for" in text
    assert "Our systems saw your details in clear" in text  # the export job reading the profile for the copy
    assert "Trainer was given a dataset that included your data" in text
    assert "Our data protection officer" not in text  # the DPO read another person's details, not these
    assert len(rows) == 5
    seqs = [int(s) for s in re.findall(r"/me/access/(\d+)/proof", html)]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert str(support_id) not in html  # staff by role, never by account
    assert str(dpo_id) not in html
    assert "staff-" not in html  # nor by user name (tests.fixtures.access names them staff-<hex>)
    assert REASON not in html  # the break-glass reason is for the DPO's review, not this page

    key = tmp_path / "audit.pub.pem"
    for seq in seqs:
        response = client.get(f"/me/access/{seq}/proof")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="access-proof-{seq}.json"'
        proof = response.get_json()
        key.write_text(proof["public_key_pem"])
        path = tmp_path / f"proof-{seq}.json"
        path.write_bytes(response.data)
        assert offline_verify.main(["--proof", str(path), "--public-key", str(key)]) == 0

    # an entry not shown to this person (here: the DPO reading the other person) has no proof for them
    shown = set(seqs)
    assert all(client.get(f"/me/access/{seq}/proof").status_code == 404 for seq in range(1, 40) if seq not in shown)


def test_nobody_accessed_a_new_person_s_data(client, make_subject, login_subject) -> None:
    login_subject(client, make_subject())
    html = client.get("/me/access").get_data(as_text=True)
    assert "Nobody has accessed your data apart from you." in html
