"""One parsing rule everywhere (issue 18, findings 2, 3, 6, 7, 8 and 12): whatever the route, bad input is a 4xx
with a stable code, never a 500, and the error body never repeats what the client wrote.

Each test names the finding it reproduces; every one of them failed (500, 201 or an echoed value) before the
shared rules of `governance.inputs` and `governance.api` existed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance import inputs

ALL_SCOPES = {
    "subjects:write",
    "events:write",
    "consents:write",
    "consents:read",
    "requests:write",
    "datasets:request",
    "training:submit",
}
PURPOSES = {"personalized_recommendations", "product_analytics"}
PERSONAL = "someone.probe@example.com"


@pytest.fixture
def product(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return bearer(ALL_SCOPES, PURPOSES)


@pytest.fixture
def subject_id(client: FlaskClient, product: dict[str, str]) -> str:
    created = client.post("/api/v1/subjects", json={"external_ref": f"ref-{uuid.uuid4().hex[:8]}"}, headers=product)
    assert created.status_code == 201, created.json
    sid = created.json["id"]
    grant = {"purpose": "personalized_recommendations", "decision": "granted"}
    granted = client.post(f"/api/v1/subjects/{sid}/consents", json={"decisions": [grant]}, headers=_idem(product))
    assert granted.status_code in (200, 201), granted.json
    return sid


def _idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


def _event(event_id: str, occurred_at: str) -> dict[str, Any]:
    return {"event_id": event_id, "category": "view", "item_id": "item-1", "occurred_at": occurred_at}


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00"])
def test_an_event_at_the_end_of_the_calendar_is_rejected_alone(
    client: FlaskClient, product: dict[str, str], subject_id: str, moment: str
) -> None:
    """Finding 18.2: the UTC conversion overflowed and failed the whole batch with 500."""
    events = [_event("edge", moment), _event("fine", "2026-01-01T10:00:00Z")]
    response = client.post(f"/api/v1/subjects/{subject_id}/events", json={"events": events}, headers=product)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 1
    assert [(r["index"], r["error"]) for r in response.json["rejected"]] == [(0, "invalid_event")]
    mixed = [{**_event("edge-2", moment), "subject_id": subject_id}]
    response = client.post("/api/v1/events", json={"events": mixed}, headers=product)
    assert response.status_code == 200, response.json
    assert response.json["rejected"][0]["error"] == "invalid_event"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/subjects", {"external_ref": "nul\u0000ref"}),
        ("POST", "/api/v1/requests", {"kind": "access", "subject_id": "{sid}", "verification_method": "a\u0000b"}),
        (
            "POST",
            "/api/v1/subjects/{sid}/consents",
            {
                "decisions": [{"purpose": "product_analytics", "decision": "granted"}],
                "evidence": {"banner_id": "b\u0000", "page": "/p"},
            },
        ),
        ("POST", "/api/v1/subjects/{sid}/events", {"events": [_event("e\u0001", "2026-01-01T10:00:00Z")]}),
        ("POST", "/api/v1/subjects", {"external_ref": "lone\ud800surrogate"}),
    ],
)
def test_control_characters_in_bodies_are_refused_on_every_backend(
    client: FlaskClient, product: dict[str, str], subject_id: str, method: str, path: str, body: dict[str, Any]
) -> None:
    """Finding 18.3: PostgreSQL cannot store NUL (DataError, 500); SQLite stored it. Both now refuse it."""
    import json

    raw = json.dumps(body).replace("{sid}", subject_id)
    response = client.open(
        path.format(sid=subject_id), method=method, data=raw, content_type="application/json", headers=_idem(product)
    )
    assert response.status_code in (400, 422), response.json
    assert response.json["error"] in ("invalid_character", "validation_failed")


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/requests?status=%00",
        "/api/v1/subjects/{sid}/events?category=%00",
        "/api/v1/audit/entries?target_id=%00",
        "/api/v1/access/clients/bad%00id",
    ],
)
def test_control_characters_in_urls_are_refused(
    app: Flask, client: FlaskClient, login_staff: Callable[..., uuid.UUID], subject_id: str, query: str
) -> None:
    """Finding 18.3 for filters and path ids, before any resource factory or query sees them."""
    staff = app.test_client()
    login_staff(staff, ("admin", "dpo"))
    response = staff.get(query.format(sid=subject_id))
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_character"


def test_the_schema_layer_refuses_control_characters_outside_requests() -> None:
    """The same rule holds when a model is validated in a job or a command (no request, no URL guard)."""
    from pydantic import ValidationError

    from governance.vault.schemas import EventsQuery

    with pytest.raises(ValidationError) as raised:
        EventsQuery.model_validate({"category": ["vi\u0000ew"]})
    assert raised.value.errors()[0]["loc"] == ("category",)
    assert inputs.TEXT_MESSAGE in str(raised.value)


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-01-01T00:00:00",  # no time zone
        "until=0.5",  # a number read as a Unix time
        "since=1700000000",
        "since=9999-12-31T23:59:59-05:00",  # out of range once in UTC
        "since=2026-02-30T00:00:00Z",
        "since=2026-01-01",
    ],
)
def test_timestamp_filters_are_iso_8601_with_a_time_zone(
    app: Flask, login_staff: Callable[..., uuid.UUID], subject_id: str, query: str
) -> None:
    """Findings 18.6 and 18.12: naive or out-of-range timestamps gave 500; numbers were read as Unix times."""
    staff = app.test_client()
    login_staff(staff, ("admin", "dpo"))
    for path in (f"/api/v1/subjects/{subject_id}/events", "/api/v1/audit/entries"):
        response = staff.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query, response.status_code, response.get_data(as_text=True))
        assert response.json["error"] == "validation_failed"


def test_integer_filters_stay_within_64_bits(app: Flask, login_staff: Callable[..., uuid.UUID]) -> None:
    """Finding 18.6: `after=2**70` overflowed the database integer (500)."""
    staff = app.test_client()
    login_staff(staff, ("admin", "dpo"))
    response = staff.get(f"/api/v1/audit/entries?after={2**70}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["fields"] == {"after": inputs.INTEGER_MESSAGE}


def test_duplicate_json_keys_are_refused(client: FlaskClient, product: dict[str, str], subject_id: str) -> None:
    """Finding 18.8: the last key won, so `withdrawn` then `granted` recorded a grant."""
    raw = '{"decisions": [{"purpose": "product_analytics", "decision": "withdrawn", "decision": "granted"}]}'
    response = client.post(
        f"/api/v1/subjects/{subject_id}/consents", data=raw, content_type="application/json", headers=_idem(product)
    )
    assert response.status_code == 400
    assert response.json["error"] == "duplicate_key"
    current = client.get(f"/api/v1/subjects/{subject_id}/consents", headers=product)
    assert "product_analytics" not in str(
        [c for c in current.json.get("consents", current.json) if "granted" in str(c)]
    )


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ('{"external_ref": "u16"}'.encode("utf-16"), "application/json", 400, "invalid_encoding"),
        ('{"external_ref": "u16"}'.encode("utf-16-le"), "application/json", 400, "malformed_json"),
        (
            '{"external_ref": "latin"}'.encode("latin-1"),
            "application/json; charset=latin-1",
            415,
            "unsupported_charset",
        ),
        (b'\xef\xbb\xbf{"external_ref": "bom"}', "application/json", 400, "invalid_encoding"),
        (b'{"external_ref": "x", "n": NaN}', "application/json", 400, "malformed_json"),
    ],
)
def test_bodies_are_utf8_json_only(
    client: FlaskClient, product: dict[str, str], data: bytes, content_type: str, status: int, code: str
) -> None:
    """Finding 18.12: UTF-16 bodies and charset=latin-1 were accepted."""
    response = client.post("/api/v1/subjects", data=data, content_type=content_type, headers=product)
    assert (response.status_code, response.json["error"]) == (status, code)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/training/jobs?zzz=1", "/api/v1/purposes?zzz=1", "/api/v1/requests/overdue?zzz=1"],
)
def test_unknown_query_parameters_are_refused_everywhere(
    app: Flask, login_staff: Callable[..., uuid.UUID], product: dict[str, str], path: str
) -> None:
    """Finding 18.12: these routes ignored unknown parameters while the others answered 422."""
    staff = app.test_client()
    login_staff(staff, ("admin", "dpo"))
    response = staff.get(path)
    if response.status_code in (401, 403):
        response = app.test_client().get(path, headers=product)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["error"] == "unknown_field"
    assert "zzz" not in response.get_data(as_text=True)


def test_every_api_query_and_body_model_follows_the_shared_rules(app: Flask) -> None:
    """The class, not the instance: every query and body model of every API route is a StrictModel, so the
    rules above cannot be forgotten by a new route."""
    import typing

    from governance.api import StrictModel

    loose = []
    for endpoint, view in app.view_functions.items():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        if not rule.rule.startswith("/api/v1"):
            continue
        target = view
        while getattr(target, "__wrapped__", None) is not None:
            target = target.__wrapped__
        hints = typing.get_type_hints(target)
        for name in ("query", "body"):
            model = hints.get(name)
            if model is not None and not issubclass(model, StrictModel):
                loose.append(f"{endpoint}.{name}")
    assert loose == []


def test_error_bodies_name_unknown_fields_by_position(client: FlaskClient, product: dict[str, str]) -> None:
    """Finding 18.7: unknown JSON keys and unknown profile field names came back in `fields`."""
    unknown_key = client.post("/api/v1/subjects", json={"external_ref": "r-7", PERSONAL: 1}, headers=product)
    assert unknown_key.status_code == 422
    assert unknown_key.json["fields"] == {"(unknown 1)": "unknown field"}
    unknown_profile = client.post(
        "/api/v1/subjects", json={"external_ref": "r-8", "profile": {PERSONAL: "x", "country": "GB"}}, headers=product
    )
    assert unknown_profile.status_code == 422
    assert PERSONAL not in unknown_profile.get_data(as_text=True)
    assert "(unknown 1)" in unknown_profile.json["fields"]
    unknown_query = client.get(f"/api/v1/consents/check?{PERSONAL}=1", headers=product)
    assert unknown_query.status_code == 422
    assert PERSONAL not in unknown_query.get_data(as_text=True)


def test_unknown_purposes_and_spec_items_are_not_echoed(client: FlaskClient, product: dict[str, str]) -> None:
    """Finding 18.7: an unknown purpose came back in `message` and in `not_allowed[].name`."""
    for body in (
        {"purpose": "no_such_purpose_zebediah"},
        {"purpose": "personalized_recommendations", "profile_fields": ["zebediah_field"]},
        {"purpose": "personalized_recommendations", "event_categories": ["zebediah_cat"]},
    ):
        response = client.post("/api/v1/datasets", json=body, headers=product)
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        assert "zebediah" not in response.get_data(as_text=True).lower()
    sid = str(uuid.uuid4())
    decision = {"purpose": "zebediah_purpose", "decision": "granted"}
    response = client.post(f"/api/v1/subjects/{sid}/consents", json={"decisions": [decision]}, headers=_idem(product))
    assert "zebediah" not in response.get_data(as_text=True).lower()
