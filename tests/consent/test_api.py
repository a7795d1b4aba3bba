"""The consent API end to end: writes with Idempotency-Key, checks (single and bulk), history, receipts and their
verification, GPC, objections, bad input, and the routes' permissions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance.audit.models import AuditEntry
from governance.consent.models import ConsentEvent
from tests.consent.conftest import count

RECS = "personalized_recommendations"
BASE = "/api/v1"


@pytest.fixture
def product(bearer) -> dict[str, str]:
    return bearer(["consents:write", "consents:read"])


def post(client: FlaskClient, subject: uuid.UUID, body: dict, headers: dict, key: str | None = None):
    extra = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"{BASE}/subjects/{subject}/consents", json=body, headers={**headers, **extra})


def check(client: FlaskClient, subject: uuid.UUID, purpose: str, headers: dict) -> dict:
    response = client.get(f"{BASE}/consents/check?subject={subject}&purpose={purpose}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_grant_check_withdraw_history_receipts(client: FlaskClient, subject: uuid.UUID, product: dict) -> None:
    assert check(client, subject, RECS, product) | {"subject_id": None} == {
        "subject_id": None, "purpose": RECS, "allowed": False, "reason": "no_consent",
    }  # fmt: skip
    response = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "granted"}]}, product)
    assert response.status_code == 201, response.get_json()
    (receipt,) = response.get_json()["receipts"]
    assert receipt["receipt"]["purposes"][0]["purpose_id"] == RECS
    assert check(client, subject, RECS, product)["allowed"] is True
    response = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "withdrawn"}]}, product)
    assert response.status_code == 201
    assert check(client, subject, RECS, product)["reason"] == "withdrawn"

    history = client.get(f"{BASE}/subjects/{subject}/consents/history", headers=product).get_json()
    assert [e["decision"] for e in history["events"]] == ["granted", "withdrawn"]
    receipts = client.get(f"{BASE}/subjects/{subject}/consents/receipts", headers=product).get_json()["receipts"]
    assert len(receipts) == 2
    state = client.get(f"{BASE}/subjects/{subject}/consents", headers=product).get_json()
    (recs,) = [p for p in state["purposes"] if p["purpose"] == RECS]
    assert recs["reason"] == "withdrawn"

    verified = client.post(f"{BASE}/consents/receipts/verify", json={"jws": receipt["jws"]}, headers=product)
    assert verified.get_json()["valid"] is True
    assert verified.get_json()["in_ledger"] is True
    assert verified.get_json()["current"] is False  # withdrawn since
    tampered = receipt["jws"][:-4] + ("AAAA" if not receipt["jws"].endswith("AAAA") else "BBBB")
    assert (
        client.post(f"{BASE}/consents/receipts/verify", json={"jws": tampered}, headers=product).get_json()["valid"]
        is False
    )
    keys = client.get(f"{BASE}/consents/receipts/keys").get_json()["keys"]
    assert keys[0]["alg"] == "Ed25519"
    assert "d" not in keys[0]  # never the private part


def test_idempotency_key(app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict) -> None:
    body = {"decisions": [{"purpose": RECS, "decision": "granted"}]}
    first = post(client, subject, body, product, key="k-1")
    again = post(client, subject, body, product, key="k-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    other = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "withdrawn"}]}, product, key="k-1")
    assert other.status_code == 409
    assert other.get_json()["error"] == "idempotency_key_reused"
    assert count(app, ConsentEvent) == 1
    missing = client.post(f"{BASE}/subjects/{subject}/consents", json=body, headers=product)
    assert missing.status_code == 422
    assert missing.get_json()["error"] == "idempotency_key_required"


def test_bad_input(app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict) -> None:
    unknown = post(client, subject, {"decisions": [{"purpose": "astrology", "decision": "granted"}]}, product)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"] == "unknown_purpose"
    assert RECS in unknown.get_json()["valid_purposes"]
    basis = post(client, subject, {"decisions": [{"purpose": "fraud_prevention", "decision": "granted"}]}, product)
    assert basis.status_code == 422
    assert basis.get_json()["error"] == "basis_not_consent"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    ahead = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "granted", "collected_at": future}]},
                 product)  # fmt: skip
    assert ahead.status_code == 422
    assert ahead.get_json()["error"] == "collected_at_in_future"
    nobody = post(client, uuid.uuid4(), {"decisions": [{"purpose": RECS, "decision": "granted"}]}, product)
    assert nobody.status_code == 404
    extra = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "granted", "x": 1}]}, product)
    assert extra.status_code == 422
    bad_check = client.get(f"{BASE}/consents/check?subject={subject}&purpose=astrology", headers=product)
    assert bad_check.status_code == 422
    assert bad_check.get_json()["error"] == "unknown_purpose"
    no_subject = client.get(f"{BASE}/consents/check?subject={uuid.uuid4()}&purpose={RECS}", headers=product)
    assert no_subject.status_code == 404
    assert count(app, ConsentEvent) == 0


def test_gpc_header(client: FlaskClient, subject: uuid.UUID, product: dict) -> None:
    post(client, subject, {"decisions": [{"purpose": "partner_sharing", "decision": "granted"},
                                         {"purpose": RECS, "decision": "granted"}]}, product)  # fmt: skip
    response = post(client, subject, {}, {**product, "Sec-GPC": "1"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["gpc_withdrawn"] == ["partner_sharing"]
    assert check(client, subject, "partner_sharing", product)["reason"] == "withdrawn"
    assert check(client, subject, RECS, product)["allowed"] is True
    history = client.get(f"{BASE}/subjects/{subject}/consents/history", headers=product).get_json()["events"]
    assert history[-1]["method"] == "gpc"


def test_bulk_check(client: FlaskClient, make_subject, product: dict) -> None:
    subjects = [make_subject() for _ in range(3)]
    post(client, subjects[0], {"decisions": [{"purpose": RECS, "decision": "granted"}]}, product)
    response = client.post(
        f"{BASE}/consents/check", json={"purpose": RECS, "subject_ids": [str(s) for s in subjects]}, headers=product
    )
    results = response.get_json()["results"]
    assert [results[str(s)]["reason"] for s in subjects] == ["granted", "no_consent", "no_consent"]


def test_scopes_are_enforced(client: FlaskClient, subject: uuid.UUID, bearer) -> None:
    reader = bearer(["consents:read"])
    denied = post(client, subject, {"decisions": [{"purpose": RECS, "decision": "granted"}]}, reader)
    assert denied.status_code == 403
    assert client.get(f"{BASE}/subjects/{subject}/consents").status_code == 401
    assert client.get(f"{BASE}/purposes").status_code == 200
    notice = client.get(f"{BASE}/purposes/{RECS}/notices/2")
    assert notice.status_code == 200
    assert "What changed since version 1" in notice.get_data(as_text=True)


def test_subject_dashboard_session_records_its_own(client: FlaskClient, make_subject, login_subject) -> None:
    own, other = make_subject(), make_subject()
    login_subject(client, own)
    token_page = client.get("/login")
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', token_page.get_data(as_text=True))
    headers = {"X-CSRFToken": match.group(1)} if match else {}
    body = {"decisions": [{"purpose": RECS, "decision": "granted"}]}
    mine = client.post(f"{BASE}/subjects/{own}/consents", json=body, headers=headers)
    assert mine.status_code == 201, mine.get_json()
    assert mine.get_json()["receipts"][0]["receipt"]["collection_method"] == "dashboard"
    theirs = client.post(f"{BASE}/subjects/{other}/consents", json=body, headers=headers)
    assert theirs.status_code == 404


def test_every_write_is_audited(app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict) -> None:
    post(client, subject, {"decisions": [{"purpose": RECS, "decision": "granted"}]}, product)
    with app.app_context():
        session = app.extensions["governance.db"].session()
        details = session.scalars(
            sa.select(AuditEntry.details).where(AuditEntry.action == "consent.decision.recorded")
        ).all()
        session.close()
    assert [d["decision"] for d in details] == ["granted"]
    assert set(details[0]) == {"record_id", "purpose", "decision", "method", "notice_version", "seq", "superseded"}
