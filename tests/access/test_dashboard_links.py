"""One-time dashboard links and subject sessions: once, for 10 minutes, for one subject only."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient

from governance.access import authn
from tests.access.conftest import audit_actions, run_sql


def new_link(client: FlaskClient, bearer, subject_id: uuid.UUID) -> str:  # type: ignore[no-untyped-def]
    response = client.post(f"/api/v1/subjects/{subject_id}/dashboard-links", headers=bearer(["subjects:link"]))
    assert response.status_code == 201
    body = response.get_json()
    assert body["expires_in"] == 600
    assert response.headers["Cache-Control"] == "no-store"
    return body["url"].split("localhost", 1)[1]


def link_again(client: FlaskClient, subject_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/subjects/{subject_id}/dashboard-links")


def test_link_starts_a_session_once(app: Flask, client: FlaskClient, bearer) -> None:
    subject = uuid.uuid4()
    path = new_link(client, bearer, subject)
    opened = client.get(path)
    assert opened.status_code == 302
    assert "/dashboard/start" not in opened.headers["Location"]  # the token leaves the address bar
    # The session acts for its subject: asking to mint a link for itself is not permitted (403) ...
    assert link_again(client, subject).status_code == 403
    # ... and another subject's resource does not even exist for it (404).
    assert link_again(client, uuid.uuid4()).status_code == 404
    reused = app.test_client().get(path)
    assert reused.status_code == 410
    assert "access.dashboard_link.rejected" in audit_actions(app)


def test_expired_link_is_refused(app: Flask, client: FlaskClient, bearer) -> None:
    path = new_link(client, bearer, uuid.uuid4())
    run_sql(app, "UPDATE access_dashboard_links SET expires_at = created_at")
    assert client.get(path).status_code == 410


def test_unknown_link_is_refused_like_an_expired_one(client: FlaskClient) -> None:
    response = client.get("/dashboard/start/not-a-real-token")
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_tampered_session_cookie_is_anonymous(app: Flask, client: FlaskClient, login_subject) -> None:
    subject = uuid.uuid4()
    login_subject(client, subject)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    tampered = cookie.value[:-3] + ("aaa" if not cookie.value.endswith("aaa") else "bbb")
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], tampered)
    response = client.post(f"/api/v1/subjects/{subject}/dashboard-links")
    assert response.status_code == 401


def test_forged_session_token_in_a_validly_signed_cookie_is_anonymous(client: FlaskClient) -> None:
    with client.session_transaction() as cookie:
        cookie[authn.COOKIE_KEY] = {"kind": "subject", "token": "guessed"}
    assert link_again(client, uuid.uuid4()).status_code == 401


def test_idle_subject_session_expires(app: Flask, client: FlaskClient, login_subject) -> None:
    subject = uuid.uuid4()
    login_subject(client, subject)
    assert link_again(client, subject).status_code == 403
    run_sql(app, "UPDATE access_subject_sessions SET last_seen_at = :t", t="2000-01-01 00:00:00")
    assert link_again(client, subject).status_code == 401


def test_logout_ends_the_subject_session(app: Flask, client: FlaskClient, login_subject, csrf_headers) -> None:
    subject = uuid.uuid4()
    login_subject(client, subject)
    headers = csrf_headers(client)
    assert client.post("/dashboard/logout", headers=headers).status_code == 302
    assert link_again(client, subject).status_code == 401


def test_cli_prints_a_working_link(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["governance", "dashboard-link", str(uuid.uuid4())])
    assert result.exit_code == 0, result.output
    path = result.output.strip().split("localhost", 1)[1]
    assert app.test_client().get(path).status_code == 302


def test_a_link_opened_twice_at_the_same_moment_starts_one_session(app: Flask, client: FlaskClient, bearer) -> None:
    import threading

    path = new_link(client, bearer, uuid.uuid4())
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def open_link() -> None:
        browser = app.test_client()
        barrier.wait()
        statuses.append(browser.get(path).status_code)

    threads = [threading.Thread(target=open_link) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 410, 410, 410]
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        import sqlalchemy as sa

        assert conn.execute(sa.text("SELECT count(*) FROM access_subject_sessions")).scalar_one() == 1
