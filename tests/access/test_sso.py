"""Staff single sign-on against a real OpenID provider (oidc-provider on Node.js, tests/fixtures/oidc/): the code
flow with PKCE, state, nonce and expiry checks, roles from the groups claim, MFA from amr/acr or the local TOTP,
just-in-time accounts with no role, local passwords refused for SSO accounts, sign-out at the provider, and a
provider that is down. The browser is the Flask test client for the service and real HTTP for the provider."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance import audit
from governance.access import accounts, sso
from tests.access.conftest import PASSWORD, audit_rows, post_form, second_step, sign_in, totp_now
from tests.conftest import dump_all_rows
from tests.fixtures.access import csrf_token_from
from tests.fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, running_provider
from tests.fixtures.ports import unused_port

POLICY = """
claim: groups
roles:
  privacy-admins: [admin]
  privacy-office: [dpo]
  privacy-helpdesk: [support]
  internal-audit: [auditor]
mfa_roles: [admin, dpo, auditor]
mfa_amr: [otp, mfa, hwk]
mfa_acr: ["urn:example:loa:mfa"]
scopes: [openid, groups]
"""
APP_URL = "http://localhost"


@pytest.fixture
def provider(oidc_provider: OidcProvider) -> Iterator[OidcProvider]:
    oidc_provider.reset()
    yield oidc_provider
    oidc_provider.reset()


def _sso_settings(issuer: str, tmp_path: Path) -> dict[str, str]:
    policy = tmp_path / "sso.yaml"
    policy.write_text(POLICY)
    return {
        "SSO_ISSUER": issuer,
        "SSO_CLIENT_ID": CLIENT_ID,
        "SSO_CLIENT_SECRET": CLIENT_SECRET,
        "SSO_POLICY": str(policy),
    }


@pytest.fixture
def sso_app(app: Flask, make_app: Callable[..., Flask], provider: OidcProvider, tmp_path: Path) -> Flask:
    """The service with SSO on (`app` first: it empties the tables)."""
    return make_app(**_sso_settings(provider.issuer, tmp_path))


def start(client: FlaskClient, next_path: str = "/console") -> str:
    response = client.get(f"/login/sso?next={next_path}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def callback(client: FlaskClient, url: str, **headers: str) -> Any:
    assert url.startswith(APP_URL), url
    return client.get(url[len(APP_URL) :], headers=headers)


def sso_sign_in(client: FlaskClient, provider: OidcProvider, account: str, next_path: str = "/console") -> Any:
    return callback(client, provider.sign_in(start(client, next_path), account))


def with_query(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunparse(parts._replace(query=urlencode(query)))


def staff_row(app: Flask, sub: str, issuer: str) -> Any:
    ref = hashlib.sha256(f"{issuer}\x00{sub}".encode()).hexdigest()
    with app.extensions["governance.db"].engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT id, username, roles, password_hash FROM access_staff WHERE sso_subject = :r"), {"r": ref}
        ).first()


def refusals(app: Flask) -> list[str]:
    return [row["details"]["reason"] for row in audit_rows(app, "access.sso.refused")]


def signed_in(client: FlaskClient) -> bool:
    return client.get("/console").status_code == 200


def _roles(value: Any) -> list[str]:
    import json

    return sorted(json.loads(value) if isinstance(value, str) else value)


# ---- the code flow ----


def test_code_flow_with_pkce_signs_in_with_the_mapped_roles(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("alice", ["privacy-admins", "not-mapped"], amr=["pwd", "otp"])
    client = sso_app.test_client()
    url = start(client, "/console/admin")
    query = parse_qs(urlparse(url).query)
    assert url.startswith(provider.discovery()["authorization_endpoint"])
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url SHA-256; the verifier itself never leaves
    assert "code_verifier" not in query
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["redirect_uri"] == [f"{APP_URL}/login/sso/callback"]

    response = callback(client, provider.sign_in(url, "alice"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/admin"
    assert client.get("/console/admin").status_code == 200  # admin with MFA from the provider

    row = staff_row(sso_app, "alice", provider.issuer)
    assert row is not None
    assert _roles(row.roles) == ["admin"]
    assert row.username.startswith("sso-")
    created = audit_rows(sso_app, "access.staff.created")
    assert created[-1]["details"]["source"] == "sso"
    assert created[-1]["details"]["roles"] == []  # just in time, with no role until the groups map one
    succeeded = audit_rows(sso_app, "access.sign_in.succeeded")[-1]
    assert succeeded["details"] == {"mfa": True, "method": "sso"}
    # Nothing the provider said about the person is kept: no sub, name or e-mail anywhere in the database.
    dump = dump_all_rows(sso_app.extensions["governance.db"].engine)
    for personal in ("alice@example.test", "Person alice", "'alice'"):
        assert personal not in dump


def test_the_pkce_verifier_is_what_the_provider_checks(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("alice", ["privacy-helpdesk"])
    client = sso_app.test_client()
    url = provider.sign_in(start(client), "alice")
    with client.session_transaction() as cookie:
        flow = dict(cookie[sso.FLOW_KEY])
        flow["verifier"] = "x" * 64  # a verifier that does not match the challenge sent to the provider
        cookie[sso.FLOW_KEY] = flow
    response = callback(client, url, Accept="application/json")
    assert response.status_code == 401
    assert response.get_json()["error"] == "sso_token_invalid"
    assert refusals(sso_app) == ["code_exchange"]
    assert not signed_in(client)


def test_a_wrong_state_is_refused_and_the_flow_is_used_up(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("alice", ["privacy-helpdesk"])
    client = sso_app.test_client()
    url = provider.sign_in(start(client), "alice")
    response = callback(client, with_query(url, state="forged-state"))
    assert response.status_code == 400
    assert "not valid or has expired" in response.get_data(as_text=True)
    assert not signed_in(client)
    # The right callback afterwards finds no flow: one flow, one callback.
    again = callback(client, url, Accept="application/json")
    assert again.status_code == 400
    assert again.get_json()["error"] == "sso_state_invalid"
    assert refusals(sso_app) == ["state_mismatch", "no_flow"]
    assert staff_row(sso_app, "alice", provider.issuer) is None  # nothing created before the checks pass


def test_a_wrong_nonce_in_the_id_token_is_refused(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("alice", ["privacy-helpdesk"])
    client = sso_app.test_client()
    # The same request (state, PKCE challenge) but another nonce: the provider signs a token for that nonce.
    url = with_query(start(client), nonce="a-nonce-this-browser-never-got")
    response = callback(client, provider.sign_in(url, "alice"), Accept="application/json")
    assert response.status_code == 401
    assert response.get_json()["error"] == "sso_token_invalid"
    assert refusals(sso_app) == ["nonce_mismatch"]
    assert not signed_in(client)


def test_an_expired_id_token_is_refused(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("alice", ["privacy-helpdesk"])
    client = sso_app.test_client()
    url = provider.sign_in(start(client), "alice")
    # The provider's ID tokens live an hour; the service reads this one two hours later.
    sso_app.extensions[sso.EXTENSION_KEY].now = lambda: int(time.time()) + 7200
    response = callback(client, url, Accept="application/json")
    assert response.status_code == 401
    assert response.get_json()["error"] == "sso_token_invalid"
    assert refusals(sso_app) == ["expired"]
    assert not signed_in(client)


def test_a_provider_error_or_another_issuer_in_the_callback_is_refused(sso_app: Flask, provider: OidcProvider) -> None:
    client = sso_app.test_client()
    state = parse_qs(urlparse(start(client)).query)["state"][0]
    # The person cancelled at the provider: it answers with an error (its text is never shown back).
    cancelled = client.get(
        f"/login/sso/callback?state={state}&error=access_denied&error_description=<script>x</script>",
        headers={"Accept": "application/json"},
    )
    assert cancelled.status_code == 400
    assert cancelled.get_json()["error"] == "sso_provider_error"
    assert "script" not in cancelled.get_data(as_text=True)
    # RFC 9207: a response naming another issuer (a mix-up attack) is refused before any code exchange.
    provider.set_account("alice", ["privacy-helpdesk"])
    url = provider.sign_in(start(client), "alice")
    mixed = callback(client, with_query(url, iss="https://evil.example"), Accept="application/json")
    assert mixed.status_code == 400
    assert mixed.get_json()["error"] == "sso_state_invalid"
    # ... and so is one without `iss`, from a provider that says it always sends it.
    url = provider.sign_in(start(client), "alice")
    assert provider.discovery()["authorization_response_iss_parameter_supported"] is True
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "iss"}
    stripped = callback(client, urlunparse(parts._replace(query=urlencode(query))), Accept="application/json")
    assert stripped.status_code == 400
    assert refusals(sso_app) == ["provider_error", "issuer_mismatch", "issuer_missing"]
    assert not signed_in(client)


# ---- MFA ----


@pytest.mark.parametrize("amr", [["pwd"], None], ids=["password-only-amr", "no-amr-or-acr-claim"])
def test_a_role_needing_mfa_without_the_providers_mfa_and_no_local_totp_is_refused(
    sso_app: Flask, provider: OidcProvider, amr: list[str] | None
) -> None:
    provider.set_account("bob", ["privacy-admins"], amr=amr)  # None: the ID token carries neither claim
    client = sso_app.test_client()
    response = sso_sign_in(client, provider, "bob")
    assert response.status_code == 403
    assert "multi-factor" in response.get_data(as_text=True)
    assert refusals(sso_app) == ["mfa_required"]
    assert not signed_in(client)


def test_without_the_providers_mfa_the_local_totp_is_the_second_step(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("bob", ["privacy-office"], amr=["pwd"])
    provider.set_account("bob-helpdesk", ["privacy-helpdesk"], amr=["pwd"])
    # bob's account exists (an earlier sign-in) and has an authenticator app enrolled.
    sso_sign_in(sso_app.test_client(), provider, "bob")
    row = staff_row(sso_app, "bob", provider.issuer)
    with sso_app.test_request_context():
        session = sso_app.extensions["governance.db"].session()
        with session.begin():
            staff = accounts.get_staff(session, uuid.UUID(str(row.id)))
            box = accounts.SecretBox(sso_app.extensions["governance.keys"].secret("access-totp"))
            secret = accounts.begin_totp_enrolment(session, staff, box)
            staff.totp_enabled_at = datetime.now(UTC)
        session.close()

    client = sso_app.test_client()
    response = sso_sign_in(client, provider, "bob", "/console/audit")
    assert response.status_code == 302
    step = response.headers["Location"]
    assert step.startswith("/login/totp")
    assert not signed_in(client)  # not before the second step
    done = post_form(client, step, {"code": totp_now(secret)}, page=step)
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/audit"
    assert client.get("/console/audit").status_code == 200
    assert audit_rows(sso_app, "access.sign_in.succeeded")[-1]["details"] == {"mfa": True, "method": "sso+totp"}

    # A role without MFA needs neither.
    other = sso_app.test_client()
    assert sso_sign_in(other, provider, "bob-helpdesk").status_code == 302
    assert signed_in(other)


def test_mfa_asserted_through_acr_counts(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("carol", ["internal-audit"], amr=["pwd"], acr="urn:example:loa:mfa")
    client = sso_app.test_client()
    assert sso_sign_in(client, provider, "carol").status_code == 302
    assert client.get("/console/audit").status_code == 200


# ---- roles and accounts ----


def test_a_role_change_at_the_provider_takes_effect_at_the_next_sign_in(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("dana", ["privacy-helpdesk"], amr=["pwd", "otp"])
    first = sso_app.test_client()
    assert sso_sign_in(first, provider, "dana").status_code == 302
    assert first.get("/console/requests").status_code == 200  # support
    assert first.get("/console/audit").status_code == 403

    provider.set_account("dana", ["privacy-office"], amr=["pwd", "otp"])
    assert first.get("/console/audit").status_code == 403  # not before a sign-in
    second = sso_app.test_client()
    assert sso_sign_in(second, provider, "dana").status_code == 302
    assert second.get("/console/audit").status_code == 200  # dpo now
    assert first.get("/console/audit").status_code == 200  # roles are the account's: every session has them
    changed = audit_rows(sso_app, "access.staff.roles_changed")[-1]["details"]
    assert (changed["from"], changed["to"], changed["source"]) == (["support"], ["dpo"], "sso")

    provider.set_account("dana", ["left-the-company"], amr=["pwd", "otp"])
    third = sso_app.test_client()
    response = sso_sign_in(third, provider, "dana")
    assert response.status_code == 403
    assert not signed_in(third)
    assert not signed_in(first)  # the last mapped group gone: the account's sessions end
    assert not signed_in(second)
    row = staff_row(sso_app, "dana", provider.issuer)
    assert _roles(row.roles) == []


def test_sso_sessions_are_bounded_by_the_sso_session_lifetime(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("dana", ["privacy-helpdesk"])
    assert sso_sign_in(sso_app.test_client(), provider, "dana").status_code == 302
    with sso_app.extensions["governance.db"].engine.connect() as conn:
        created, expires = conn.execute(sa.text("SELECT created_at, expires_at FROM access_staff_sessions")).one()
    if isinstance(created, str):  # SQLite
        created, expires = datetime.fromisoformat(created), datetime.fromisoformat(expires)
    assert (expires - created).total_seconds() == 8 * 3600  # GOVERNANCE_SSO_SESSION_HOURS, below the 12 h default


def test_a_first_sign_in_without_a_mapped_group_creates_an_account_with_no_access(
    sso_app: Flask, provider: OidcProvider
) -> None:
    provider.set_account("erin", ["marketing"], amr=["pwd", "otp"])
    client = sso_app.test_client()
    response = sso_sign_in(client, provider, "erin")
    assert response.status_code == 403
    assert "no role here yet" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert client.get("/console/requests").status_code in (302, 401)
    row = staff_row(sso_app, "erin", provider.issuer)
    assert row is not None
    assert _roles(row.roles) == []
    assert refusals(sso_app) == ["no_role"]
    refused = audit_rows(sso_app, "access.sso.refused")[-1]
    assert uuid.UUID(refused["target_id"]) == uuid.UUID(str(row.id))
    assert refused["details"]["subject_ref"] == audit.digest_ref(sso.subject_ref(provider.issuer, "erin"))

    # Once an administrator maps the group (here: the person joins a mapped group), the same account gets in.
    provider.set_account("erin", ["marketing", "privacy-helpdesk"])
    assert sso_sign_in(client, provider, "erin").status_code == 302
    assert signed_in(client)
    assert str(staff_row(sso_app, "erin", provider.issuer).id) == str(row.id)


def test_a_local_password_is_refused_for_an_account_with_sso(
    sso_app: Flask, provider: OidcProvider, make_staff: Callable[..., tuple[uuid.UUID, str, str | None]]
) -> None:
    staff_id, username, _ = make_staff("support", totp=False)
    local = sso_app.test_client()
    assert sign_in(local, username).status_code == 302  # the password works before SSO is turned on
    linked = sso_app.test_cli_runner().invoke(args=["governance", "staff", "link-sso", username, "--subject", "frank"])
    assert linked.exit_code == 0, linked.output
    assert "single sign-on only" in linked.output
    assert not signed_in(local)  # linking ends the account's sessions
    assert audit_rows(sso_app, "access.staff.sso_linked")[-1]["details"] == {
        "subject_ref": audit.digest_ref(sso.subject_ref(provider.issuer, "frank"))
    }

    client = sso_app.test_client()
    response = sign_in(client, username, PASSWORD)  # the right password
    assert response.status_code == 401
    assert "not correct" in response.get_data(as_text=True)
    assert audit_rows(sso_app, "access.sign_in.failed")[-1]["details"] == {"stage": "sso_only"}
    assert not signed_in(client)

    provider.set_account("frank", ["privacy-helpdesk"])
    assert sso_sign_in(client, provider, "frank").status_code == 302
    assert client.get("/console/requests").status_code == 200
    # the same account, now through SSO
    assert uuid.UUID(str(staff_row(sso_app, "frank", provider.issuer).id)) == staff_id


def test_a_deactivated_account_is_refused_at_sign_in(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("hana", ["privacy-helpdesk"])
    client = sso_app.test_client()
    assert sso_sign_in(client, provider, "hana").status_code == 302
    row = staff_row(sso_app, "hana", provider.issuer)
    with sso_app.test_request_context():
        session = sso_app.extensions["governance.db"].session()
        with session.begin():
            accounts.get_staff(session, uuid.UUID(str(row.id))).active = False
        session.close()
    assert not signed_in(client)
    response = sso_sign_in(sso_app.test_client(), provider, "hana")
    assert response.status_code == 403
    assert refusals(sso_app) == ["inactive"]


def test_admins_see_sso_accounts_and_cannot_reset_their_password(
    sso_app: Flask, provider: OidcProvider, login_staff: Callable[..., uuid.UUID]
) -> None:
    provider.set_account("ivan", ["privacy-helpdesk"])
    assert sso_sign_in(sso_app.test_client(), provider, "ivan").status_code == 302
    row = staff_row(sso_app, "ivan", provider.issuer)
    admin = sso_app.test_client()
    admin_id = login_staff(admin, "admin")
    items = {item["id"]: item for item in admin.get("/api/v1/access/staff").get_json()["items"]}
    assert items[str(uuid.UUID(str(row.id)))]["sso"] is True
    assert items[str(admin_id)]["sso"] is False
    csrf = csrf_token_from(admin.get("/login").get_data(as_text=True))
    reset = admin.post(f"/api/v1/access/staff/{uuid.UUID(str(row.id))}/password-reset", headers={"X-CSRFToken": csrf})
    assert reset.status_code == 409
    assert reset.get_json()["error"] == "sso_account"


# ---- sign-out ----


def test_sign_out_ends_the_session_here_and_at_the_provider(sso_app: Flask, provider: OidcProvider) -> None:
    provider.set_account("gus", ["privacy-helpdesk"])
    client = sso_app.test_client()
    with requests.Session() as browser:  # the person's browser at the provider keeps its session cookie
        assert callback(client, provider.sign_in(start(client), "gus", browser=browser)).status_code == 302
        # The sign-out form's submission ends at the provider: the page's CSP must let it.
        assert f"form-action 'self' {provider.issuer}" in client.get("/console").headers["Content-Security-Policy"]
        response = post_form(client, "/logout", {})
        assert response.status_code == 302
        location = response.headers["Location"]
        end_session = provider.discovery()["end_session_endpoint"]
        assert location.startswith(end_session)
        query = parse_qs(urlparse(location).query)
        assert query["client_id"] == [CLIENT_ID]
        assert query["post_logout_redirect_uri"] == [f"{APP_URL}/login"]
        assert not signed_in(client)  # ended here first, whatever the provider does
        assert audit_rows(sso_app, "access.sign_out")[-1]["details"] == {"provider_logout": True}
        # The provider accepts the request: it asks the person to confirm signing out there.
        confirm = browser.get(location, allow_redirects=False, timeout=30)
        assert confirm.status_code == 200
        assert "logout" in confirm.text.lower()


def test_sign_out_while_the_provider_is_down_ends_the_session_here(
    app: Flask, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    (tmp_path / "idp").mkdir()
    with running_provider(tmp_path / "idp") as own:  # its own provider: this test stops it
        settings = _sso_settings(own.issuer, tmp_path)
        own.set_account("gus", ["privacy-helpdesk"])
        client = make_app(**settings).test_client()
        assert sso_sign_in(client, own, "gus").status_code == 302
        assert signed_in(client)
        name = app.config["SESSION_COOKIE_NAME"]
        cookie = client.get_cookie(name)
        assert cookie is not None
    # The provider is gone (its port closed). Another worker, which has not read its discovery document yet,
    # answers the sign-out: the local session ends and the browser goes to the sign-in page, not the provider.
    other = make_app(**settings).test_client()
    other.set_cookie(name, cookie.value, domain=cookie.domain)
    assert signed_in(other)
    response = post_form(other, "/logout", {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not signed_in(other)
    assert not signed_in(client)  # the same session, ended in the database
    assert audit_rows(app, "access.sign_out")[-1]["details"] == {}  # no provider_logout


# ---- the provider is down ----


def test_provider_down_answers_clearly_and_local_break_glass_admin_still_signs_in(
    app: Flask,
    make_app: Callable[..., Flask],
    tmp_path: Path,
    make_staff: Callable[..., tuple[uuid.UUID, str, str | None]],
) -> None:
    down = make_app(**_sso_settings(f"http://127.0.0.1:{unused_port()}", tmp_path))
    client = down.test_client()
    page = client.get("/login/sso")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    assert "cannot be reached" in page.get_data(as_text=True)
    as_json = client.get("/login/sso", headers={"Accept": "application/json"})
    assert as_json.status_code == 503
    assert as_json.get_json()["error"] == "sso_unavailable"

    # A callback arriving while the provider is down (the flow began before it went): 503, never a 500.
    with client.session_transaction() as cookie:
        cookie[sso.FLOW_KEY] = {
            "state": "s" * 43,
            "nonce": "n" * 43,
            "verifier": "v" * 64,
            "next": "/console",
            "at": datetime.now(UTC).isoformat(),
        }
    late = client.get(f"/login/sso/callback?state={'s' * 43}&code=abc", headers={"Accept": "application/json"})
    assert late.status_code == 503
    assert late.get_json()["error"] == "sso_unavailable"
    assert refusals(down) == ["unreachable", "unreachable", "unreachable"]

    # The local break-glass administrator (password + TOTP) is not affected.
    _, username, secret = make_staff("admin", totp=True)
    assert secret is not None
    admin = down.test_client()
    assert sign_in(admin, username).status_code == 302
    assert second_step(admin, totp_now(secret)).status_code == 302
    assert admin.get("/console/admin").status_code == 200


def test_sso_off_answers_404_and_the_login_page_has_no_sso_button(client: FlaskClient) -> None:
    response = client.get("/login/sso", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "sso_disabled"
    assert "company account" not in client.get("/login").get_data(as_text=True)


def test_the_login_page_offers_sso_when_it_is_on(sso_app: Flask) -> None:
    assert "Sign in with your company account" in sso_app.test_client().get("/login").get_data(as_text=True)
