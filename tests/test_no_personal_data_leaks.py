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
