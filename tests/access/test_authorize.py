"""authorize(): errors by case (401/403/404), audited denials and break-glass grants, rate limits."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask

from governance.access.principals import Principal, Resource
from governance.access.service import authorize
from governance.errors import AuthenticationRequiredError, ForbiddenError, NotFoundError
from tests.access.conftest import audit_rows

SUPPORT = Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset({"support"}), mfa=False)
REASON = "Ticket 881: the customer cannot sign in and asked us to check their e-mail address"


def test_anonymous_needs_authentication(app: Flask) -> None:
    with app.test_request_context(), pytest.raises(AuthenticationRequiredError):
        authorize(Principal.anonymous(), "policy.read", Resource.system())


def test_another_subjects_resource_is_not_found(app: Flask) -> None:
    session_principal = Principal(kind="subject", id="s", subject_id=uuid.uuid4())
    with app.test_request_context():
        with pytest.raises(NotFoundError):
            authorize(session_principal, "profile.read_clear", Resource.subject(uuid.uuid4()))
        authorize(session_principal, "profile.read_clear", Resource.subject(session_principal.subject_id))


def test_another_clients_item_is_not_found(app: Flask) -> None:
    client = Principal(kind="client", id="a", scopes=frozenset({"training:submit"}), purposes=frozenset({"p"}))
    with app.test_request_context(), pytest.raises(NotFoundError):
        authorize(client, "training.read", Resource(type="TrainingJob", id="j", owner_client_id="b"))


def test_malformed_subject_id_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        Resource.subject("../etc/passwd")


def test_break_glass_records_the_reason_outside_the_audit_log(app: Flask) -> None:
    subject = uuid.uuid4()
    with app.test_request_context():
        authorize(SUPPORT, "profile.break_glass", Resource.subject(subject), {"reason": f"  {REASON}  "})
    granted = audit_rows(app, "access.break_glass.granted")
    assert len(granted) == 1
    assert granted[0]["target_id"] == str(subject)
    assert "Ticket" not in str(granted[0]["details"])  # free text may name the person: not in the log
    with app.app_context():
        from governance.access import accounts

        session = app.extensions["governance.db"].session()
        grants = accounts.break_glass_grants(session)
        session.close()
    assert [g.reason for g in grants] == [REASON]
    assert str(grants[0].id) == granted[0]["details"]["break_glass_id"]


@pytest.mark.parametrize("context", [None, {"reason": "   "}, {"reason": 42}])
def test_break_glass_without_reason_is_refused_and_audited(app: Flask, context: dict | None) -> None:
    with app.test_request_context(), pytest.raises(ForbiddenError) as caught:
        authorize(SUPPORT, "profile.break_glass", Resource.subject(uuid.uuid4()), context)
    assert caught.value.code == "reason_required"
    denied = audit_rows(app, "access.denied")
    assert denied[-1]["details"]["rules"] == ["break-glass-needs-reason"]


def test_auditor_reads_break_glass_reasons(app: Flask, login_staff) -> None:
    with app.test_request_context():
        authorize(SUPPORT, "profile.break_glass", Resource.subject(uuid.uuid4()), {"reason": REASON})
    client = app.test_client()
    login_staff(client, "auditor")
    items = client.get("/api/v1/access/break-glass").get_json()["items"]
    assert [i["reason"] for i in items] == [REASON]
    support = app.test_client()
    login_staff(support, "support")
    assert support.get("/api/v1/access/break-glass").status_code == 403


def test_rate_limit_answers_429_with_retry_after(make_app, bearer) -> None:  # type: ignore[no-untyped-def]
    limited = make_app(RATELIMIT_DEFAULT="3/minute")
    client = limited.test_client()
    statuses = [client.get("/api/v1/access/policy").status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    response = client.get("/api/v1/access/policy")
    assert response.get_json()["error"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_rate_limit_is_per_client(make_app, bearer) -> None:  # type: ignore[no-untyped-def]
    limited = make_app(RATELIMIT_DEFAULT="2/minute")
    client = limited.test_client()
    first, second = bearer(["subjects:link"]), bearer(["subjects:link"])
    path = f"/api/v1/subjects/{uuid.uuid4()}/dashboard-links"
    assert [client.post(path, headers=first).status_code for _ in range(3)] == [201, 201, 429]
    assert client.post(path, headers=second).status_code == 201


def test_rate_limits_are_shared_through_redis_when_configured(make_app) -> None:  # type: ignore[no-untyped-def]
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex}"
    settings = {"RATELIMIT_STORAGE_URL": url, "RATELIMIT_DEFAULT": "2/minute", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = make_app(**settings), make_app(**settings)  # two workers
    path = "/api/v1/access/policy"
    assert first.test_client().get(path).status_code == 401
    assert second.test_client().get(path).status_code == 401
    assert first.test_client().get(path).status_code == 429
