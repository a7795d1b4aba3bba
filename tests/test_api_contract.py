"""Bad input to a JSON endpoint gets the documented 4xx error body and leaves the database unchanged."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import Field
from sqlalchemy import func, select

from governance.access.decorators import public
from governance.api import StrictModel, api_blueprint
from governance.db import get_session, transaction
from governance.jobs import enqueue
from governance.jobs.models import Job


class NoteIn(StrictModel):
    title: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0)


@pytest.fixture
def contract_app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app(MAX_BODY_BYTES=1024 * 1024)
    bp = api_blueprint("contract_probe")

    @bp.post("/probe-notes")
    @public("test-only endpoint for the API contract")
    def create_note(body: NoteIn) -> tuple[dict[str, str], int]:
        with transaction(get_session()) as session:
            job_id = enqueue(session, "probe.note", body.model_dump())
        return {"id": str(job_id)}, 201

    app.register_api(bp)
    return app


def _job_count(app: Flask) -> int:
    with app.app_context(), app.extensions["governance.db"].session() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


@pytest.fixture
def probe(app: Flask, contract_app: Flask) -> FlaskClient:
    return contract_app.test_client()


def test_valid_body_is_accepted(probe: FlaskClient, contract_app: Flask) -> None:
    response = probe.post("/api/v1/probe-notes", json={"title": "hello", "count": 2})
    assert response.status_code == 201
    uuid.UUID(response.json["id"])
    assert _job_count(contract_app) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"title": "x", "count": ', "application/json", 400, "malformed_json"),
        (b'{"title": "x", "count": "many"}', "application/json", 422, "validation_failed"),
        (b'{"title": "x", "count": 1, "admin": true}', "application/json", 422, "unknown_field"),
        (b"title=x&count=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"[1, 2, 3]", "application/json", 422, "validation_failed"),
    ],
)
def test_bad_input_gets_a_documented_error(
    probe: FlaskClient, contract_app: Flask, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = probe.post("/api/v1/probe-notes", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"] == code
    assert response.json["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert _job_count(contract_app) == 0


def test_field_errors_name_the_field_without_echoing_values(probe: FlaskClient) -> None:
    response = probe.post("/api/v1/probe-notes", json={"title": "", "count": "secret-value-123"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"title", "count"}
    assert "secret-value-123" not in response.get_data(as_text=True)


def test_oversized_body_is_413(probe: FlaskClient, contract_app: Flask) -> None:
    huge = b'{"title": "' + b"x" * (10 * 1024 * 1024) + b'", "count": 1}'
    response = probe.post("/api/v1/probe-notes", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"
    assert _job_count(contract_app) == 0
