"""Consent test helpers: subjects created through the vault's service, a fixed clock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from governance.access.principals import Principal

SYSTEM = Principal.system("tests")
PRODUCT = Principal(kind="client", id="product-backend", scopes=frozenset({"consents:write"}))


@pytest.fixture
def make_subject(app: Flask) -> Callable[[], uuid.UUID]:
    """Subjects created through the vault's service in an app context of their own (API tests must not run
    inside a test-wide app context: Flask would share `g`, and so the request's session, with the test)."""
    from governance.vault import service as vault

    def factory() -> uuid.UUID:
        with app.app_context():
            session = app.extensions["governance.db"].session()
            try:
                view = vault.create_subject(session, external_ref=f"user-{uuid.uuid4().hex[:12]}", actor=SYSTEM)
                session.commit()
            finally:
                session.close()
        return view.id

    return factory


def count(app: Flask, model: type, *where: Any) -> int:
    """Rows of `model` (matching `where`), read in a short app context of its own."""
    import sqlalchemy as sa

    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return int(session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)
        finally:
            session.close()


@pytest.fixture
def subject(make_subject: Callable[[], uuid.UUID]) -> uuid.UUID:
    return make_subject()


def at(days: float = 0, **kwargs: float) -> dt.datetime:
    """A fixed moment after every shipped notice was published."""
    return dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(days=days, **kwargs)


@pytest.fixture(autouse=True)
def _receipt_key_state_matches_the_tables(request: pytest.FixtureRequest) -> None:
    """The app lives for the whole session while each test empties the tables: forget that this process already
    published its receipt key (production never empties `consent_receipt_keys`)."""
    if "app" not in request.fixturenames:
        return
    from governance.consent.service import KNOWN_KEYS_EXTENSION, SIGNER_EXTENSION

    app = request.getfixturevalue("app")
    app.extensions.pop(SIGNER_EXTENSION, None)
    app.extensions.pop(KNOWN_KEYS_EXTENSION, None)
