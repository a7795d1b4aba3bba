"""An admin manages staff and clients from the console; every change needs a fresh second factor.

The admin adds, resets and disables staff, and adds, rotates and disables clients. A secret is shown once, on a
page that is never cached and never behind a redirect; a wrong or replayed code changes nothing and counts
towards the lockout; other roles are refused."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import Flask

from tests.fixtures.access import csrf_token_from


def _enrol(app: Flask, staff_id: uuid.UUID) -> tuple[str, list[str]]:
    """An authenticator app (secret) and recovery codes for a signed-in test account."""
    import datetime as dt

    from governance.access import accounts

    box = accounts.SecretBox(app.extensions["governance.keys"].secret("access-totp"))
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            staff = accounts.get_staff(session, staff_id)
            secret = accounts.begin_totp_enrolment(session, staff, box)
            earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
            codes = accounts.confirm_totp_enrolment(session, staff, pyotp.TOTP(secret).at(earlier), box)
        session.close()
    return secret, codes


def _post(client: Any, url: str, **form: Any):
    token = csrf_token_from(client.get("/console/admin").get_data(as_text=True))
    return client.post(url, data={**form, "csrf_token": token})


def _staff_row(app: Flask, username: str) -> sa.Row:
    with app.extensions["governance.db"].engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT id, active, must_change_password FROM access_staff WHERE username = :u"), {"u": username}
        ).one()


def test_an_admin_adds_resets_and_disables_staff_with_a_fresh_code(app, client, login_staff):
    admin_id = login_staff(client, "admin")
    secret, recovery = _enrol(app, admin_id)
    assert "Add a staff account" in client.get("/console/admin").get_data(as_text=True)

    response = _post(
        client, "/console/admin/staff", username="nina", roles=["support"], mfa_code=pyotp.TOTP(secret).now()
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    temporary = re.search(r'id="one-time-secret"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)
    row = _staff_row(app, "nina")
    assert (bool(row.active), bool(row.must_change_password)) == (True, True)
    assert temporary not in client.get("/console/admin").get_data(as_text=True)  # shown once

    response = _post(client, f"/console/admin/staff/{row.id}/reset", mfa_code=recovery[0])
    assert response.status_code == 200
    assert "Temporary password" in response.get_data(as_text=True)

    response = _post(client, f"/console/admin/staff/{row.id}/disable", mfa_code=recovery[1])
    assert response.status_code == 303
    assert "Account disabled" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert not _staff_row(app, "nina").active


def test_a_wrong_or_replayed_code_changes_nothing(app, client, login_staff):
    admin_id = login_staff(client, "admin")
    secret, _ = _enrol(app, admin_id)
    code = pyotp.TOTP(secret).now()
    response = _post(client, "/console/admin/staff", username="omar", roles=["auditor"], mfa_code="000000")
    assert response.status_code == 303
    assert "Nothing changed" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        _post(client, "/console/admin/clients", name="CRM", scopes=["consents:read"], mfa_code=code).status_code == 200
    )
    replay = _post(client, "/console/admin/staff", username="omar", roles=["auditor"], mfa_code=code)
    assert replay.status_code == 303  # the same code cannot confirm a second change
    with app.extensions["governance.db"].engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM access_staff WHERE username = 'omar'")).scalar() == 0
    from governance.access.models import StaffAccount

    with app.extensions["governance.db"].engine.connect() as conn:
        failures = conn.execute(sa.select(StaffAccount.failed_logins).where(StaffAccount.id == admin_id)).scalar()
    assert failures >= 1  # counted like a failed sign-in


def test_an_admin_adds_rotates_and_disables_a_client(app, client, login_staff):
    from governance.access import tokens

    admin_id = login_staff(client, "admin")
    _, recovery = _enrol(app, admin_id)
    response = _post(
        client,
        "/console/admin/clients",
        name="Recommender",
        scopes=["datasets:request"],
        purposes=["personalized_recommendations"],
        mfa_code=recovery[0],
    )
    page = response.get_data(as_text=True)
    first = re.search(r'id="one-time-secret"[^>]*value="([^"]+)"', page).group(1)
    client_id = re.search(r"<dt>Client id</dt><dd>([^<]+)</dd>", page).group(1)
    response = _post(client, f"/console/admin/clients/{client_id}/rotate", mfa_code=recovery[1])
    second = re.search(r'id="one-time-secret"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert second != first
    with app.app_context():
        session = app.extensions["governance.db"].session()
        registered = tokens.get_client(session, client_id)
        assert tokens.check_client_secret(registered, second)
        assert not tokens.check_client_secret(registered, first)
        session.close()
    response = _post(client, f"/console/admin/clients/{client_id}/disable", mfa_code=recovery[2])
    assert "Client disabled" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.extensions["governance.db"].engine.connect() as conn:
        active = conn.execute(sa.text("SELECT active FROM access_clients WHERE client_id = :c"), {"c": client_id})
        assert not active.scalar()
    with app.extensions["governance.db"].engine.connect() as conn:
        details = conn.execute(sa.text("SELECT details FROM audit_entries WHERE action LIKE 'access.%'")).all()
    for secret in (first, second):
        assert secret not in str(details)


def test_other_roles_cannot_manage_staff_or_clients(app, client, login_staff):
    dpo_id = login_staff(client, "dpo")
    _enrol(app, dpo_id)
    page = client.get("/console/admin").get_data(as_text=True)
    assert "Add a staff account" not in page
    token = csrf_token_from(page)
    for url in ("/console/admin/staff", "/console/admin/clients", f"/console/admin/staff/{uuid.uuid4()}/reset"):
        assert client.post(url, data={"csrf_token": token, "mfa_code": "123456"}).status_code == 403
