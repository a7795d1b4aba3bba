"""Personal data never reaches logs, audit entries or error bodies.

Canary values (an email, a name, a phone number, the product's user reference) travel through the real API:
subject creation, profile reads and updates, bad input that names them, events, consent decisions and a data
subject request. Every log record the service writes (with all its structured fields), every audit row and every
error response is then searched for them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

CANARY_EMAIL = "canary.leak.7731@example.org"
CANARY_NAME = "Zebediah Canarywick"
CANARY_PHONE = "+447911123731"
CANARY_REF = "canary-ref-55aa77"
CANARIES = [CANARY_EMAIL, CANARY_NAME, CANARY_PHONE, CANARY_REF, "canarywick", "7911123731"]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=str))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    capture = _Capture()
    logger = logging.getLogger("governance")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    yield capture
    logger.removeHandler(capture)
    logger.setLevel(previous)


def _assert_clean(text_blob: str, where: str) -> None:
    lowered = text_blob.lower()
    for canary in CANARIES:
        assert canary.lower() not in lowered, f"personal data ({canary!r}) found in {where}"


def test_canary_personal_data_never_leaks(app: Flask, client: FlaskClient, bearer, captured_logs: _Capture) -> None:  # type: ignore[no-untyped-def]
    backend = bearer(
        {"subjects:write", "events:write", "consents:write", "consents:read", "requests:write"},
    )
    bodies: list[str] = []

    def call(method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
        response = client.open(path, method=method, headers=backend, **kwargs)
        bodies.append(f"{method} {path} -> {response.status_code}")
        if response.status_code >= 400:
            bodies.append(response.get_data(as_text=True))
        return response

    profile = {"email": CANARY_EMAIL, "name": CANARY_NAME, "phone": CANARY_PHONE, "country": "GB"}
    created = call("POST", "/api/v1/subjects", json={"external_ref": CANARY_REF, "profile": profile})
    assert created.status_code == 201, created.json
    subject_id = created.json["id"]

    # Bad input that carries personal data must not echo it back or log it.
    call("POST", "/api/v1/subjects", json={"external_ref": CANARY_REF, "profile": profile})  # duplicate
    call("POST", "/api/v1/subjects", json={"external_ref": "x2", "profile": {"email": CANARY_NAME}})
    call("POST", "/api/v1/subjects", json={"external_ref": "x3", "profile": {"phone": CANARY_EMAIL}})
    call("POST", "/api/v1/subjects", json={"external_ref": CANARY_REF, "unexpected": CANARY_EMAIL})
    call("POST", "/api/v1/subjects/lookup", json={"email": CANARY_EMAIL})
    call("PATCH", f"/api/v1/subjects/{subject_id}/profile", json={"fields": {"name": CANARY_NAME + " Jr"}})
    call("PATCH", f"/api/v1/subjects/{subject_id}/profile", json={"fields": {"birth_date": CANARY_PHONE}})

    decision = {"purpose": "personalized_recommendations", "decision": "granted"}
    call("POST", f"/api/v1/subjects/{subject_id}/consents", json={"decisions": [decision]})
    events = [
        {"event_id": "e1", "category": "search", "occurred_at": "2026-01-01T10:00:00Z",
         "context": {"query": CANARY_NAME}},
        {"event_id": "e2", "category": "view", "occurred_at": "2026-01-01T10:00:00Z", "item_id": CANARY_EMAIL},
        {"event_id": CANARY_PHONE, "category": "nonsense", "occurred_at": "2026-01-01T10:00:00Z"},
    ]  # fmt: skip
    call("POST", f"/api/v1/subjects/{subject_id}/events", json={"events": events})
    call("POST", "/api/v1/requests", json={"subject_id": subject_id, "kind": "access",
                                            "verification": "product_login"})  # fmt: skip

    for body in bodies:
        _assert_clean(body, "an API error body")
    _assert_clean("\n".join(captured_logs.lines), "the logs")
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_entries")).all()
    assert rows, "the flow wrote no audit entries"
    _assert_clean("\n".join(repr(tuple(row)) for row in rows), "the audit log")


def test_canaries_in_paths_queries_and_field_names_never_come_back(  # type: ignore[no-untyped-def]
    app: Flask, client: FlaskClient, bearer, login_staff, csrf_headers, captured_logs: _Capture
) -> None:
    """Issue 18: error bodies echoed unknown JSON keys, unknown profile field names, unknown purposes and spec
    items; refusals with personal-looking URL ids were not audited. Canaries go into every such place: path ids,
    query parameter names and values, body keys, purposes and spec items; none may come back or be stored."""
    backend = bearer(
        {"subjects:write", "events:write", "consents:write", "consents:read", "requests:write", "datasets:request"},
        {"personalized_recommendations"},
    )
    bodies: list[str] = []

    def call(method: str, path: str, *, headers: dict[str, str] | None = None, via=client, **kwargs):  # type: ignore[no-untyped-def]
        response = via.open(path, method=method, headers=headers if headers is not None else backend, **kwargs)
        assert response.status_code < 500, (method, path, response.status_code)
        if response.status_code >= 400:
            bodies.append(response.get_data(as_text=True))
        return response

    created = call("POST", "/api/v1/subjects", json={"external_ref": "leak-2"})
    subject_id = created.json["id"]
    idem = {**backend, "Idempotency-Key": "leak-test-1"}
    for canary in (CANARY_EMAIL, CANARY_PHONE, CANARY_NAME):
        call("GET", f"/api/v1/subjects/{canary}")
        call("GET", f"/api/v1/subjects/{canary}/events")
        call("GET", f"/api/v1/requests/{canary}")
        call("GET", f"/api/v1/datasets/{canary}")
        call("GET", f"/api/v1/purposes?{canary}=1")
        call("GET", f"/api/v1/subjects/{subject_id}/events?since={canary}")
        call("GET", f"/api/v1/subjects/{subject_id}/events?{canary}=x")
        call("GET", f"/api/v1/consents/check?subject={canary}&purpose={canary}")
        call("POST", "/api/v1/subjects", json={"external_ref": "leak-3", canary: 1})
        call("POST", "/api/v1/subjects", json={"external_ref": "leak-4", "profile": {canary: "x"}})
        call("PATCH", f"/api/v1/subjects/{subject_id}/profile", json={"fields": {canary: "x"}})
        decision = {"purpose": canary, "decision": "granted"}
        call("POST", f"/api/v1/subjects/{subject_id}/consents", json={"decisions": [decision]}, headers=idem)
        call("POST", "/api/v1/datasets", json={"purpose": canary})
        call("POST", "/api/v1/datasets", json={"purpose": "personalized_recommendations", "profile_fields": [canary]})
        call("POST", "/api/v1/datasets", json={"purpose": "personalized_recommendations", "event_categories": [canary]})
        event = {"event_id": "e1", "category": "view", "item_id": "i", "occurred_at": "2026-01-01T00:00:00Z", canary: 1}
        call("POST", f"/api/v1/subjects/{subject_id}/events", json={"events": [event]})
    support = app.test_client()
    login_staff(support, "support")
    for canary in (CANARY_EMAIL, CANARY_PHONE):
        call("DELETE", f"/api/v1/access/clients/{canary}", headers=csrf_headers(support), via=support)
        call("GET", f"/api/v1/audit/entries?target_id={canary}", headers={}, via=support)

    for body in bodies:
        _assert_clean(body, "an API error body")
    _assert_clean("\n".join(captured_logs.lines), "the logs")
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_entries")).all()
        denied = conn.execute(text("SELECT count(*) FROM audit_entries WHERE action = 'access.denied'")).scalar()
    assert denied >= 2, "refusals with personal-looking ids must be audited (redacted), not dropped"
    _assert_clean("\n".join(repr(tuple(row)) for row in rows), "the audit log")
