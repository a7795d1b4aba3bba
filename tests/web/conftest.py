"""Factories for the web tests: a subject with a profile, opened in a dashboard session."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from governance.access.principals import ActorRef

TEST_ACTOR = ActorRef("system", "web-tests")
PROFILE = {
    "email": "ada.lovelace@example.org",
    "name": "Ada Lovelace",
    "country": "DE",
    "language": "en",
    "birth_date": "1990-12-10",
}


@pytest.fixture
def make_subject(app: Flask) -> Callable[..., uuid.UUID]:
    """Create a subject through the vault's service (real encryption); returns its id."""
    from governance.vault import service as vault

    def make(profile: dict[str, str] | None = None, jurisdiction: str = "EU") -> uuid.UUID:
        with app.test_request_context():
            session = app.extensions["governance.db"].session()
            try:
                with session.begin():
                    view = vault.create_subject(
                        session,
                        external_ref=f"user-{secrets.token_hex(6)}",
                        actor=TEST_ACTOR,
                        profile=PROFILE if profile is None else profile,
                        jurisdiction=jurisdiction,
                    )
            finally:
                session.close()
        return view.id

    return make
