"""Staff sign-in through the real pages: password, TOTP, replay, recovery codes, lockout, CSRF, enrolment,
session rotation and timeouts, admin password reset."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance.access import authn
from tests.access.conftest import (
    PASSWORD,
    audit_actions,
    audit_rows,
    post_form,
    run_sql,
    second_step,
    sign_in,
    totp_now,
)

POLICY = "/api/v1/access/policy"  # needs policy.read: any staff member with a complete sign-in


def access_cookie(client: FlaskClient) -> dict | None:
    with client.session_transaction() as cookie:
        return cookie.get(authn.COOKIE_KEY)


def test_password_and_totp_sign_in(app: Flask, client: FlaskClient, make_staff) -> None:
    _, name, secret = make_staff("admin")
    first = sign_in(client, name)
    assert first.status_code == 302
    assert "/login/totp" in first.headers["Location"]
    assert client.get(POLICY).status_code in (302, 401)  # not signed in yet
    second = second_step(client, totp_now(secret))
    assert second.status_code == 302
    assert client.get(POLICY).status_code == 200
    assert audit_rows(app, "access.sign_in.succeeded")[-1]["details"] == {"mfa": True, "method": "totp"}


def test_wrong_password_is_refused_and_audited(app: Flask, client: FlaskClient, make_staff) -> None:
    _, name, _ = make_staff("support")
    response = sign_in(client, name, "not the password at all")
    assert response.status_code == 401
    assert "not correct" in response.get_data(as_text=True)
    assert "access.sign_in.failed" in audit_actions(app)
    assert access_cookie(client) is None


def test_unknown_user_gets_the_same_answer(client: FlaskClient) -> None:
    response = sign_in(client, "nobody-here")
    assert response.status_code == 401
    assert "not correct" in response.get_data(as_text=True)


def test_wrong_totp_is_refused(client: FlaskClient, make_staff) -> None:
    _, name, secret = make_staff("dpo")
    sign_in(client, name)
    wrong = str((int(totp_now(secret)) + 1) % 1_000_000).zfill(6)
    assert second_step(client, wrong).status_code == 401
    assert client.get(POLICY).status_code in (302, 401)


def test_replayed_totp_is_refused(app: Flask, make_staff) -> None:
    _, name, secret = make_staff("auditor")
    code = totp_now(secret)
    first = app.test_client()
    sign_in(first, name)
    assert second_step(first, code).status_code == 302
    attacker = app.test_client()
    sign_in(attacker, name)
    assert second_step(attacker, code).status_code == 401
    assert audit_rows(app, "access.sign_in.failed")[-1]["details"]["stage"] == "totp_replayed"


def test_recovery_code_works_once(app: Flask, client: FlaskClient, make_staff) -> None:
    from governance.access import accounts

    staff_id, name, _ = make_staff("admin")
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            codes = accounts.replace_recovery_codes(session, accounts.get_staff(session, staff_id))
        session.close()
    sign_in(client, name)
    assert second_step(client, codes[0].upper()).status_code == 302
    assert client.get(POLICY).status_code == 200
    again = app.test_client()
    sign_in(again, name)
    assert second_step(again, codes[0]).status_code == 401


def test_form_post_without_csrf_token_is_refused(client: FlaskClient, make_staff) -> None:
    _, name, _ = make_staff("support", totp=False)
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 400
    assert "csrf" in response.get_data(as_text=True).lower() or response.status_code == 400
    assert access_cookie(client) is None


def test_cookie_api_call_without_csrf_header_is_refused(client: FlaskClient, login_staff) -> None:
    login_staff(client, "admin")
    response = client.post("/api/v1/access/clients", json={"name": "x", "scopes": ["events:write"]})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"


def test_brute_force_locks_the_account_until_the_lock_expires(app: Flask, make_staff) -> None:
    _, name, _ = make_staff("support", totp=False)
    attacker = app.test_client()
    for _ in range(5):
        assert sign_in(attacker, name, "guess guess guess").status_code == 401
    locked = sign_in(attacker, name, "guess guess guess")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    # The lock holds even for the right password...
    owner = app.test_client()
    assert sign_in(owner, name).status_code == 429
    assert "access.staff.locked" in audit_actions(app)
    # ...and the right user gets in once it has expired.
    expire_locks(app)
    assert sign_in(owner, name).status_code == 302
    assert owner.get(POLICY).status_code == 200


def expire_locks(app: Flask) -> None:
    run_sql(app, "UPDATE access_staff SET locked_until = :t", t="2000-01-01 00:00:00")
    run_sql(app, "UPDATE access_login_throttle SET locked_until = :t", t="2000-01-01 00:00:00")


_RANDOM_PER_PAGE = re.compile(r'name="csrf_token" value="[^"]+"|nonce="[^"]+"')


def _answer(response) -> tuple:  # type: ignore[no-untyped-def]
    """What an attacker sees of one sign-in attempt, minus what is random per request."""
    retry = response.headers.get("Retry-After")
    headers = sorted(
        (k, "" if k in ("Content-Security-Policy", "X-Request-ID", "Retry-After") else v)
        for k, v in response.headers.items()
        if k not in ("Date", "Set-Cookie")
    )
    body = _RANDOM_PER_PAGE.sub("", response.get_data(as_text=True))
    return response.status_code, headers, retry is not None and int(retry) > 0, body


def test_an_unknown_name_locks_out_exactly_like_an_account(app: Flask, make_staff) -> None:
    """Issue 19, finding 7: the lockout must not tell which names exist. The same attempts against an existing
    account and an unknown name get the same statuses, headers and pages, before, during and after the lock."""
    _, name, _ = make_staff("support", totp=False)
    unknown = "nobody-here"
    transcripts: dict[str, list[tuple]] = {}
    for who in (name, unknown):
        attacker = app.test_client()
        transcripts[who] = [_answer(sign_in(attacker, who, "guess guess guess")) for _ in range(7)]
    assert [step[0] for step in transcripts[name]] == [401] * 5 + [429] * 2
    assert transcripts[unknown] == transcripts[name]
    assert "access.name.locked" in audit_actions(app)
    # Both locks expire the same way; the failures are counted afresh.
    expire_locks(app)
    for who in (name, unknown):
        attacker = app.test_client()
        transcripts[who] = [_answer(sign_in(attacker, who, "guess guess guess")) for _ in range(6)]
    assert [step[0] for step in transcripts[name]] == [401] * 5 + [429]
    assert transcripts[unknown] == transcripts[name]


def test_failures_spread_over_time_count_the_same_for_known_and_unknown_names(app: Flask, make_staff) -> None:
    """Housekeeping forgets a name's failures a day after the last one, for accounts and unknown names alike."""
    from datetime import timedelta

    from governance.access.tasks import purge_expired
    from governance.db import utcnow

    _, name, _ = make_staff("support", totp=False)
    for who in (name, "nobody-here"):
        attacker = app.test_client()
        for _ in range(4):
            assert sign_in(attacker, who, "guess guess guess").status_code == 401
    with app.app_context(), app.extensions["governance.db"].session() as session, session.begin():
        purge_expired(session, now=utcnow() + timedelta(days=2))
    for who in (name, "nobody-here"):  # a fifth and sixth failure: the earlier four were forgotten for both
        attacker = app.test_client()
        assert [sign_in(attacker, who, "guess guess guess").status_code for _ in range(2)] == [401, 401], who


def test_brute_force_from_one_address_locks_the_address(make_app, make_staff) -> None:  # type: ignore[no-untyped-def]
    strict = make_app(LOGIN_ADDRESS_FAILURES="3")
    _, name, _ = make_staff("support", totp=False)
    attacker = strict.test_client()
    for number in range(3):
        assert sign_in(attacker, f"someone{number}", "guess guess guess").status_code == 401
    response = sign_in(attacker, name)
    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_session_is_rotated_at_sign_in(client: FlaskClient, make_staff) -> None:
    _, name, secret = make_staff("admin")
    with client.session_transaction() as cookie:
        cookie[authn.COOKIE_KEY] = {"kind": "staff", "token": "planted-by-attacker"}
        cookie["other"] = "leftover"
    sign_in(client, name)
    second_step(client, totp_now(secret))
    with client.session_transaction() as cookie:
        assert cookie[authn.COOKIE_KEY]["token"] != "planted-by-attacker"
        assert "other" not in cookie
        assert "access_pending" not in cookie


def test_idle_and_absolute_timeouts(app: Flask, client: FlaskClient, login_staff) -> None:
    login_staff(client, "support")
    assert client.get(POLICY).status_code == 200
    run_sql(app, "UPDATE access_staff_sessions SET last_seen_at = :t", t="2000-01-01 00:00:00")
    assert client.get(POLICY).status_code in (302, 401)
    login_staff(client, "support")
    run_sql(app, "UPDATE access_staff_sessions SET expires_at = created_at")
    assert client.get(POLICY).status_code in (302, 401)


def test_logout_ends_the_server_side_session(client: FlaskClient, login_staff, csrf_headers) -> None:
    login_staff(client, "support")
    with client.session_transaction() as cookie:
        stolen = dict(cookie[authn.COOKIE_KEY])
    assert client.post("/logout", headers=csrf_headers(client)).status_code == 302
    with client.session_transaction() as cookie:
        cookie[authn.COOKIE_KEY] = stolen  # replaying the old cookie does not help
    assert client.get(POLICY).status_code in (302, 401)


def test_privileged_role_without_second_factor_must_enrol(app: Flask, client: FlaskClient, make_staff) -> None:
    _, name, _ = make_staff("admin", totp=False)
    response = sign_in(client, name)
    assert response.headers["Location"].endswith("/account/totp")
    assert client.get(POLICY).status_code == 403  # signed in, but no admin rights without the second factor
    page = client.get("/account/totp")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    done = client.post("/account/totp", data={"code": totp_now(secret), "csrf_token": token})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z0-9]{4}(?:-[a-z0-9]{4}){3})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get(POLICY).status_code == 200
    assert "access.totp.enrolled" in audit_actions(app)


def test_totp_secret_is_encrypted_at_rest(app: Flask, make_staff) -> None:
    from tests.conftest import dump_all_rows

    _, _, secret = make_staff("dpo")
    assert secret not in dump_all_rows(app.extensions["governance.db"].engine)


def test_admin_resets_a_password(app: Flask, client: FlaskClient, login_staff, csrf_headers, make_staff) -> None:
    staff_id, name, _ = make_staff("support", totp=False)
    victim_session = app.test_client()
    sign_in(victim_session, name)
    login_staff(client, "admin")
    response = client.post(f"/api/v1/access/staff/{staff_id}/password-reset", headers=csrf_headers(client))
    assert response.status_code == 200
    temporary = response.get_json()["temporary_password"]
    assert victim_session.get(POLICY).status_code in (302, 401)  # old sessions ended
    assert sign_in(app.test_client(), name).status_code == 401  # old password gone
    fresh = app.test_client()
    assert sign_in(fresh, name, temporary).headers["Location"].endswith("/account/password")
    assert fresh.get(POLICY).status_code == 403  # nothing but the own account until the password is changed
    changed = post_form(
        fresh,
        "/account/password",
        {"current_password": temporary, "new_password": "my own new long password"},
        page="/account/password",
    )
    assert changed.status_code == 302
    assert sign_in(app.test_client(), name, "my own new long password").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("not the current password", "my own new long password", "not correct"),  # SignInFailedError
        (None, "short", "characters"),  # InvalidCredentialSettingsError: the password policy refuses it
    ],
)
def test_password_change_refusals_show_the_form_again(
    app: Flask, client: FlaskClient, login_staff, csrf_headers, make_staff, current: str | None, new: str, message: str
) -> None:
    staff_id, name, _ = make_staff("support", totp=False)
    login_staff(client, "admin")
    temporary = client.post(f"/api/v1/access/staff/{staff_id}/password-reset", headers=csrf_headers(client)).get_json()[
        "temporary_password"
    ]
    fresh = app.test_client()
    sign_in(fresh, name, temporary)
    refused = post_form(
        fresh,
        "/account/password",
        {"current_password": current or temporary, "new_password": new},
        page="/account/password",
    )
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert sign_in(app.test_client(), name, temporary).status_code == 302  # the password is unchanged


def test_only_admins_reset_passwords(client: FlaskClient, login_staff, csrf_headers, make_staff) -> None:
    staff_id, _, _ = make_staff("support", totp=False)
    login_staff(client, "dpo")
    response = client.post(f"/api/v1/access/staff/{staff_id}/password-reset", headers=csrf_headers(client))
    assert response.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/"])
def test_open_redirect_after_sign_in_is_refused(client: FlaskClient, make_staff, target: str) -> None:
    _, name, _ = make_staff("support", totp=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", query_string={"next": target}, data={"username": name, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_cli_adds_staff_and_clients(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["governance", "staff", "add", "ops-admin", "--role", "admin", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    duplicate = runner.invoke(
        args=["governance", "staff", "add", "ops-admin", "--role", "admin", "--password", PASSWORD]
    )
    assert duplicate.exit_code != 0
    client_result = runner.invoke(
        args=["governance", "clients", "add", "recommender", "--scope", "datasets:request", "--purpose", "recs"]
    )
    assert client_result.exit_code == 0, client_result.output
    assert "client_secret=" in client_result.output
    assert sign_in(app.test_client(), "ops-admin").status_code == 302


def test_admin_lists_and_deactivates_staff(
    app: Flask, client: FlaskClient, login_staff, csrf_headers, make_staff
) -> None:
    staff_id, name, _ = make_staff("support", totp=False)
    their_browser = app.test_client()
    sign_in(their_browser, name)
    admin_id = login_staff(client, "admin")
    listed = {i["id"]: i for i in client.get("/api/v1/access/staff").get_json()["items"]}
    assert listed[str(staff_id)]["roles"] == ["support"]
    assert "password_hash" not in listed[str(staff_id)]
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/access/staff/{staff_id}/deactivate", headers=headers).status_code == 200
    assert their_browser.get(POLICY).status_code in (302, 401)
    assert sign_in(app.test_client(), name).status_code == 401
    own = client.post(f"/api/v1/access/staff/{admin_id}/deactivate", headers=headers)
    assert own.status_code == 422


def test_account_deactivated_between_the_two_steps_cannot_finish(app: Flask, client: FlaskClient, make_staff) -> None:
    _, name, secret = make_staff("dpo")
    sign_in(client, name)
    run_sql(app, "UPDATE access_staff SET active = :f", f=False)
    assert second_step(client, totp_now(secret)).status_code == 401
    assert client.get(POLICY).status_code in (302, 401)
