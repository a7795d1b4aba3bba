"""The vault API end to end: scopes, 422 naming fields, reads by role, break-glass, intake with lawful basis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance.audit.models import AuditEntry
from tests.vault.conftest import PROFILE, event

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def product(bearer: Headers) -> dict[str, str]:
    return bearer({"subjects:write", "events:write"})


def _create(client: FlaskClient, headers: dict[str, str], ref: str = "user-1", **extra: Any) -> str:
    response = client.post("/api/v1/subjects", json={"external_ref": ref, "profile": PROFILE, **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return list(session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)))
        finally:
            session.close()


def test_product_backend_creates_subjects(client: FlaskClient, product: dict[str, str], bearer: Headers) -> None:
    subject_id = _create(client, product)
    assert uuid.UUID(subject_id)
    again = client.post("/api/v1/subjects", json={"external_ref": "user-1"}, headers=product)
    assert again.status_code == 409
    assert again.get_json()["error"] == "subject_exists"

    bad = client.post(
        "/api/v1/subjects",
        json={
            "external_ref": "user-2",
            "profile": {"email": "jane-at-example", "phone": "12", "birth_date": "2990-01-01"},
        },
        headers=product,
    )
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["error"] == "invalid_profile"
    assert set(body["fields"]) == {"email", "phone", "birth_date"}
    assert "jane-at-example" not in bad.get_data(as_text=True)
    assert client.post("/api/v1/subjects/lookup", json={"external_ref": "user-2"}, headers=product).status_code == 404

    no_scope = client.post("/api/v1/subjects", json={"external_ref": "user-3"}, headers=bearer({"events:write"}))
    assert no_scope.status_code == 403
    assert client.post("/api/v1/subjects", json={"external_ref": "user-4"}).status_code == 401


def test_lookup_and_profile_update(client: FlaskClient, product: dict[str, str]) -> None:
    subject_id = _create(client, product)
    found = client.post("/api/v1/subjects/lookup", json={"email": "JANE.DOE@example.com"}, headers=product)
    assert found.status_code == 200
    assert found.get_json()["id"] == subject_id
    response = client.patch(
        f"/api/v1/subjects/{subject_id}/profile", json={"fields": {"phone": "+44 20 7946 0958"}}, headers=product
    )
    assert response.status_code == 200
    assert response.get_json() == {"changed": ["phone"]}
    bad = client.patch(
        f"/api/v1/subjects/{subject_id}/profile", json={"fields": {"country": "Narnia"}}, headers=product
    )
    assert bad.status_code == 422
    assert bad.get_json()["fields"] == {"country": "must be an ISO 3166-1 country code"}


def test_reads_by_role(
    app: Flask,
    client: FlaskClient,
    product: dict[str, str],
    login_staff: Callable[..., uuid.UUID],
    login_subject: Callable[..., None],
) -> None:
    subject_id = _create(client, product)
    other_id = _create(client, product, ref="user-other")
    url = f"/api/v1/subjects/{subject_id}/profile"

    person = app.test_client()
    login_subject(person, subject_id)
    own = person.get(url)
    assert own.status_code == 200
    assert own.get_json()["view"] == "clear"
    assert own.get_json()["fields"]["email"] == "Jane.Doe@example.com"
    assert person.get(f"/api/v1/subjects/{other_id}/profile").status_code == 404

    support = app.test_client()
    login_staff(support, "support")
    masked = support.get(url)
    assert masked.get_json()["view"] == "masked"
    assert masked.get_json()["fields"]["email"] == "J***@example.com"
    assert masked.get_json()["fields"]["phone"] == "******42"
    assert support.get(url + "?view=clear").status_code == 403

    auditor = app.test_client()
    login_staff(auditor, "auditor")
    summary = auditor.get(url).get_json()
    assert summary["view"] == "summary"
    assert "fields" not in summary
    assert summary["fields_present"] == sorted(PROFILE)

    dpo = app.test_client()
    login_staff(dpo, "dpo")
    assert dpo.get(url).get_json()["fields"]["name"] == "Jane Doe"

    actions = _audit_actions(app)
    assert actions.count("vault.profile.read_clear") == 2  # the subject's own read and the DPO's


def test_break_glass_needs_a_reason_and_is_audited(
    app: Flask,
    client: FlaskClient,
    product: dict[str, str],
    login_staff: Callable[..., uuid.UUID],
    csrf_headers: Callable[[FlaskClient], dict[str, str]],
) -> None:
    subject_id = _create(client, product)
    support = app.test_client()
    login_staff(support, "support")
    url = f"/api/v1/subjects/{subject_id}/profile/break-glass"
    headers = csrf_headers(support)
    assert support.post(url, json={"reason": "short"}, headers=headers).status_code == 422
    response = support.post(url, json={"reason": "Ticket 4711: caller verified by phone"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["fields"]["email"] == "Jane.Doe@example.com"
    actions = _audit_actions(app)
    assert "access.break_glass.granted" in actions
    assert "vault.profile.read_clear" in actions


def test_event_intake_checks_lawful_basis(app: Flask, client: FlaskClient, product: dict[str, str]) -> None:
    subject_id = _create(client, product)
    url = f"/api/v1/subjects/{subject_id}/events"
    batch = [event(1, "click"), event(2, "view"), event(3, "purchase", value=9.5), event(4, "bogus"), event(1, "click")]
    response = client.post(url, json={"events": batch}, headers=product)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    # without consent only legitimate-interest, contract and legal-obligation purposes apply: click and purchase
    assert report["accepted"] == 2
    assert report["duplicates"] == 1
    assert {(r["index"], r["error"]) for r in report["rejected"]} == {(1, "no_lawful_basis"), (3, "unknown_category")}

    from governance.consent import service as consent
    from governance.db import transaction
    from tests.vault.conftest import ACTOR

    with app.app_context():
        session = app.extensions["governance.db"].session()
        with transaction(session):
            consent.record_decisions(
                session,
                uuid.UUID(subject_id),
                [{"purpose": "personalized_recommendations", "decision": "granted"}],
                method="api",
                actor=ACTOR,
                jurisdiction="EU",
            )
        session.close()
    again = client.post(url, json={"events": batch}, headers=product).get_json()
    assert again["accepted"] == 1  # the view, now covered by a consented purpose
    assert again["duplicates"] == 3
    assert again["by_category"] == {"view": 1}

    too_many = client.post(url, json={"events": [event(i) for i in range(10_001)]}, headers=product)
    assert too_many.status_code == 422

    odd = client.post(url, json={"events": [42, event(700), "x"]}, headers=product).get_json()
    assert odd["accepted"] == 1  # a non-object is rejected by index, not the whole batch
    assert [(r["index"], r["error"]) for r in odd["rejected"]] == [(0, "invalid_event"), (2, "invalid_event")]
    mixed = client.post(
        "/api/v1/events", json={"events": [None, {**event(701), "subject_id": subject_id}]}, headers=product
    )
    assert mixed.status_code == 200
    assert mixed.get_json()["accepted"] == 1
    assert mixed.get_json()["rejected"][0]["index"] == 0

    assert (
        client.post(f"/api/v1/subjects/{uuid.uuid4()}/events", json={"events": batch}, headers=product).status_code
        == 404
    )


def test_key_status_and_rotation_routes(
    app: Flask, client: FlaskClient, product: dict[str, str], login_staff: Callable[..., uuid.UUID], csrf_headers: Any
) -> None:
    _create(client, product)
    admin = app.test_client()
    login_staff(admin, "admin")
    status = admin.get("/api/v1/keys")
    assert status.status_code == 200
    versions = status.get_json()["versions"]
    assert sum(v["data_keys"] for v in versions) == 1
    assert "wrapped" not in status.get_data(as_text=True)
    started = admin.post("/api/v1/keys/rotate", headers=csrf_headers(admin))
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["status"] == "running"

    support = app.test_client()
    login_staff(support, "support")
    assert support.post("/api/v1/keys/rotate", headers=csrf_headers(support)).status_code == 403


def test_one_subjects_data_key_rotates_through_the_api(
    app: Flask, client: FlaskClient, product: dict[str, str], login_staff: Callable[..., uuid.UUID], csrf_headers: Any
) -> None:
    """Finding 18.1: the route passed a Subject to an action the schema declared for KeyRing/System only, so
    every call (and OPTIONS on the path) answered 500."""
    subject_id = _create(client, product)
    admin = app.test_client()
    login_staff(admin, "admin")
    rotated = admin.post(f"/api/v1/subjects/{subject_id}/keys/rotate", headers=csrf_headers(admin))
    assert rotated.status_code == 200, rotated.get_json()
    assert rotated.get_json()["subject_id"] == str(subject_id)
    path = f"/api/v1/subjects/{subject_id}/keys/rotate"
    assert admin.open(path, method="OPTIONS").status_code < 500
    assert client.open(path, method="OPTIONS", headers=product).status_code < 500
    support = app.test_client()
    login_staff(support, "support")
    refused = support.post(f"/api/v1/subjects/{subject_id}/keys/rotate", headers=csrf_headers(support))
    assert refused.status_code == 403


def test_mixed_batch_for_many_subjects(client: FlaskClient, product: dict[str, str]) -> None:
    first, second, erased = (_create(client, product, ref=f"user-{n}") for n in range(3))
    from tests.vault.conftest import ACTOR

    app = client.application
    with app.app_context():
        from governance.db import transaction
        from governance.vault import service

        session = app.extensions["governance.db"].session()
        with transaction(session):
            service.shred_subject(session, uuid.UUID(erased), actor=ACTOR, reason="erasure")
        session.close()
    batch = [
        {**event(1, "click"), "subject_id": first},
        {**event(1, "click"), "subject_id": second},  # same event id, another subject: not a duplicate
        {**event(2, "view"), "subject_id": first},  # no consent for a view purpose
        {**event(3, "click"), "subject_id": erased},
        {**event(4, "click"), "subject_id": str(uuid.uuid4())},
        {**event(5, "click"), "subject_id": "not-a-uuid"},
        {**event(6, "purchase", value=3.5), "subject_id": second},
    ]
    response = client.post("/api/v1/events", json={"events": batch}, headers=product)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["accepted"] == 3
    assert report["subjects"] == 4
    assert report["by_category"] == {"click": 2, "purchase": 1}
    assert [(r["index"], r["error"]) for r in report["rejected"]] == [
        (2, "no_lawful_basis"),
        (3, "subject_erased"),
        (4, "unknown_subject"),
        (5, "invalid_event"),
    ]
    again = client.post("/api/v1/events", json={"events": batch}, headers=product).get_json()
    assert again["accepted"] == 0
    assert again["duplicates"] == 3


def test_event_reads(
    app: Flask,
    client: FlaskClient,
    product: dict[str, str],
    login_subject: Callable[..., None],
    login_staff: Callable[..., uuid.UUID],
) -> None:
    subject_id = _create(client, product)
    batch = [event(n, "click") for n in range(5)] + [event(10, "purchase", value=20.0)]
    assert (
        client.post(f"/api/v1/subjects/{subject_id}/events", json={"events": batch}, headers=product).status_code == 200
    )
    person = app.test_client()
    login_subject(person, subject_id)
    page = person.get(f"/api/v1/subjects/{subject_id}/events?category=click&limit=3").get_json()
    assert [e["event_id"] for e in page["events"]] == ["evt-0", "evt-1", "evt-2"]
    assert page["events"][0]["context"] == {"time_of_day": "evening", "device": "mobile"}
    rest = person.get(
        f"/api/v1/subjects/{subject_id}/events", query_string={"category": "click", "since": page["next_since"]}
    )
    assert [e["event_id"] for e in rest.get_json()["events"]] == ["evt-3", "evt-4"]
    both = person.get(f"/api/v1/subjects/{subject_id}/events?category=click&category=purchase").get_json()
    assert len(both["events"]) == 6
    assert "vault.events.read" in _audit_actions(app)

    auditor = app.test_client()
    login_staff(auditor, "auditor")
    assert auditor.get(f"/api/v1/subjects/{subject_id}/events").status_code == 403
