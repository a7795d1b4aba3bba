"""Helpers for the access tests: reading audit actions, registering clients, signing staff in through the pages."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance.access import accounts, tokens
from governance.access.principals import Principal
from tests.fixtures.access import csrf_token_from
from tests.fixtures.oidc_provider import oidc_provider  # the real OpenID provider, one per test session

__all__ = ["oidc_provider"]

ADMIN = Principal.system("tests")
PASSWORD = "a long enough test password"


def audit_actions(app: Flask) -> list[str]:
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text("SELECT action FROM audit_entries ORDER BY seq"))]


def audit_rows(app: Flask, action: str) -> list[dict[str, Any]]:
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT target_id, details FROM audit_entries WHERE action = :a ORDER BY seq"), {"a": action}
        )
        return [{"target_id": r[0], "details": json.loads(r[1]) if isinstance(r[1], str) else r[1]} for r in rows]


def run_sql(app: Flask, statement: str, **params: Any) -> None:
    with app.extensions["governance.db"].engine.begin() as conn:
        conn.execute(sa.text(statement), params)


@pytest.fixture
def register_client(app: Flask) -> Callable[..., tokens.RegisteredClient]:
    def register(scopes: set[str], purposes: set[str] = frozenset()) -> tokens.RegisteredClient:  # type: ignore[assignment]
        with app.app_context():
            session = app.extensions["governance.db"].session()
            with session.begin():
                registered = tokens.register_client(
                    session, name="svc", scopes=scopes, purposes=set(purposes), actor=ADMIN
                )
            session.close()
        return registered

    return register


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def make_staff(app: Flask) -> Callable[..., tuple[uuid.UUID, str, str | None]]:
    """Create a staff account; with totp=True also an enrolled authenticator. Returns (id, username, secret)."""

    def make(*roles: str, totp: bool = True, username: str | None = None) -> tuple[uuid.UUID, str, str | None]:
        name = username or f"user{uuid.uuid4().hex[:8]}"
        with app.test_request_context():
            session = app.extensions["governance.db"].session()
            with session.begin():
                staff = accounts.create_staff(session, username=name, password=PASSWORD, roles=set(roles), actor=ADMIN)
                secret = None
                if totp:
                    box = accounts.SecretBox(app.extensions["governance.keys"].secret("access-totp"))
                    secret = accounts.begin_totp_enrolment(session, staff, box)
                    staff.totp_enabled_at = datetime.now(UTC)
                staff_id = staff.id
            session.close()
        return staff_id, name, secret

    return make


def post_form(client: FlaskClient, path: str, data: dict[str, str], *, page: str = "/login") -> Any:
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/login", {"username": username, "password": password})


def totp_now(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(datetime.now(UTC).timestamp() + 30 * offset_steps)


def second_step(client: FlaskClient, code: str) -> Any:
    return post_form(client, "/login/totp", {"code": code}, page="/login/totp")
