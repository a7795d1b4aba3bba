"""OAuth2 client credentials, bearer authentication, introspection and revocation, and their attacks."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance.access import tokens
from governance.access.service import authorize
from governance.errors import ForbiddenError
from tests.access.conftest import audit_actions, audit_rows, basic, run_sql
from tests.conftest import dump_all_rows


def token_for(client: FlaskClient, registered: tokens.RegisteredClient, scope: str | None = None):  # type: ignore[no-untyped-def]
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return client.post("/oauth/token", data=data, headers=basic(registered.client_id, registered.client_secret))


def link_route() -> str:
    return f"/api/v1/subjects/{uuid.uuid4()}/dashboard-links"


def test_client_credentials_issue_a_scoped_short_lived_token(client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link", "events:write"})
    response = token_for(client, registered, "subjects:link")
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == "subjects:link"
    assert 0 < body["expires_in"] <= 900
    assert response.headers["Cache-Control"] == "no-store"
    ok = client.post(link_route(), headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok.status_code == 201


def test_token_without_scope_gets_all_of_the_clients_scopes(client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link", "events:write"})
    body = token_for(client, registered).get_json()
    assert body["scope"] == "events:write subjects:link"


def test_scope_escalation_is_refused_with_invalid_scope(app: Flask, client: FlaskClient, register_client) -> None:
    registered = register_client({"events:write"})
    response = token_for(client, registered, "events:write subjects:link")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"
    assert "access.token.issued" not in audit_actions(app)
    assert audit_rows(app, "access.token.refused")[-1]["details"]["error"] == "invalid_scope"


def test_client_secret_post_is_accepted(client: FlaskClient, register_client) -> None:
    registered = register_client({"events:write"})
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_wrong_client_secret_is_refused(app: Flask, client: FlaskClient, register_client, secret: str) -> None:
    registered = register_client({"events:write"})
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(registered.client_id, secret)
    )
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"
    assert "access.token.refused" in audit_actions(app)


def test_unsupported_grant_is_refused(client: FlaskClient, register_client) -> None:
    registered = register_client({"events:write"})
    response = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "x", "password": "y"},
        headers=basic(registered.client_id, registered.client_secret),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_no_credentials_is_401_with_www_authenticate(client: FlaskClient) -> None:
    response = client.post(link_route())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"] == "unauthenticated"


def test_missing_scope_is_403(client: FlaskClient, bearer) -> None:
    response = client.post(link_route(), headers=bearer(["events:write"]))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_denials_are_audited_outside_the_rolled_back_request(app: Flask, client: FlaskClient, bearer) -> None:
    client.post(link_route(), headers=bearer(["events:write"]))
    denied = audit_rows(app, "access.denied")
    assert denied[-1]["details"]["action"] == "subject.link"


def test_expired_token_is_refused(app: Flask, client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link"})
    token = token_for(client, registered).get_json()["access_token"]
    run_sql(app, "UPDATE access_tokens SET expires_at = issued_at")
    response = client.post(link_route(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-token", "Basic abc", "bearer  "])
def test_malformed_or_unknown_bearer_is_401(client: FlaskClient, header: str) -> None:
    assert client.post(link_route(), headers={"Authorization": header}).status_code == 401


def test_revoked_token_is_refused_and_revocation_is_audited(app: Flask, client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link"})
    token = token_for(client, registered).get_json()["access_token"]
    auth = basic(registered.client_id, registered.client_secret)
    assert client.post("/oauth/revoke", data={"token": token}, headers=auth).status_code == 200
    assert client.post(link_route(), headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "access.token.revoked" in audit_actions(app)


def test_a_client_cannot_revoke_or_inspect_another_clients_token(client: FlaskClient, register_client) -> None:
    owner = register_client({"subjects:link"})
    other = register_client({"events:write"})
    token = token_for(client, owner).get_json()["access_token"]
    other_auth = basic(other.client_id, other.client_secret)
    client.post("/oauth/revoke", data={"token": token}, headers=other_auth)
    assert client.post(link_route(), headers={"Authorization": f"Bearer {token}"}).status_code == 201
    seen = client.post("/oauth/introspect", data={"token": token}, headers=other_auth).get_json()
    assert seen == {"active": False}


def test_introspection_of_own_token(client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link"})
    token = token_for(client, registered).get_json()["access_token"]
    auth = basic(registered.client_id, registered.client_secret)
    info = client.post("/oauth/introspect", data={"token": token}, headers=auth).get_json()
    assert info["active"] is True
    assert info["client_id"] == registered.client_id
    assert info["scope"] == "subjects:link"
    assert info["exp"] > info["iat"]
    client.post("/oauth/revoke", data={"token": token}, headers=auth)
    assert client.post("/oauth/introspect", data={"token": token}, headers=auth).get_json() == {"active": False}


def test_deactivated_client_loses_its_tokens(app: Flask, client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link"})
    token = token_for(client, registered).get_json()["access_token"]
    run_sql(app, "UPDATE access_clients SET active = :f", f=False)
    assert client.post(link_route(), headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert token_for(client, registered).status_code in (400, 401)


def test_token_of_one_client_cannot_be_used_for_another_purpose(app: Flask, register_client) -> None:
    from governance.access.principals import Resource

    registered = register_client({"datasets:request"}, {"recommendations"})
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            client = tokens.get_client(session, registered.client_id)
            issued = tokens.issue_token(session, client, {"datasets:request"})
        principal = tokens.principal_for_token(session, issued.access_token)
        session.close()
        assert principal is not None
        authorize(principal, "dataset.request", Resource(type="Dataset", purpose="recommendations"))
        with pytest.raises(ForbiddenError):
            authorize(principal, "dataset.request", Resource(type="Dataset", purpose="advertising"))


def test_secrets_and_tokens_are_never_stored_in_clear(app: Flask, client: FlaskClient, register_client) -> None:
    registered = register_client({"subjects:link"})
    token = token_for(client, registered).get_json()["access_token"]
    dump = dump_all_rows(app.extensions["governance.db"].engine)
    assert registered.client_secret not in dump
    assert token not in dump


def test_admin_registers_a_client_through_the_api(client: FlaskClient, login_staff, csrf_headers) -> None:
    login_staff(client, "admin")
    response = client.post(
        "/api/v1/access/clients",
        json={"name": "recommender", "scopes": ["datasets:request"], "purposes": ["recommendations"]},
        headers=csrf_headers(client),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["client_secret"]
    listed = client.get("/api/v1/access/clients").get_json()["items"]
    assert [c["client_id"] for c in listed] == [body["client_id"]]
    assert "client_secret" not in listed[0]


def test_client_registration_rejects_unknown_scopes(client: FlaskClient, login_staff, csrf_headers) -> None:
    login_staff(client, "admin")
    response = client.post(
        "/api/v1/access/clients", json={"name": "x", "scopes": ["root"]}, headers=csrf_headers(client)
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_failed"


def test_support_cannot_register_clients(client: FlaskClient, login_staff, csrf_headers) -> None:
    login_staff(client, "support")
    response = client.post(
        "/api/v1/access/clients", json={"name": "x", "scopes": ["events:write"]}, headers=csrf_headers(client)
    )
    assert response.status_code == 403


def test_token_lifetime_comes_from_the_setting(make_app, register_client) -> None:
    """GOVERNANCE_ACCESS_TOKEN_SECONDS sets expires_in and the stored expiry (the client library's refresh test
    relies on a short one); out-of-range values stop start-up."""
    short = make_app(ACCESS_TOKEN_SECONDS="7")
    registered = register_client({"events:write"})
    response = token_for(short.test_client(), registered)
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] == 7
    with short.app_context():
        session = short.extensions["governance.db"].session()
        try:
            info = tokens.lookup_token(session, body["access_token"])
        finally:
            session.close()
    assert info is not None
    assert (info.expires_at - info.issued_at).total_seconds() == pytest.approx(7, abs=1)
    from governance.settings import ConfigError

    for bad in ("0", "86401", "soon"):
        with pytest.raises(ConfigError, match="GOVERNANCE_ACCESS_TOKEN_SECONDS"):
            make_app(ACCESS_TOKEN_SECONDS=bad)
