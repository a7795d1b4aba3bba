"""Helpers for the standard endpoints' tests: subjects made through the vault's service."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask

from governance.access.principals import Principal

SYSTEM = Principal.system("tests")


@pytest.fixture
def make_subject(app: Flask) -> Callable[..., uuid.UUID]:
    from governance.vault import service as vault

    def factory(*, email: str | None = None, jurisdiction: str = "US-CA") -> uuid.UUID:
        with app.app_context():
            session = app.extensions["governance.db"].session()
            try:
                profile = {"email": email} if email else None
                ref = f"user-{uuid.uuid4().hex[:12]}"
                view = vault.create_subject(
                    session, external_ref=ref, actor=SYSTEM, profile=profile, jurisdiction=jurisdiction
                )
                session.commit()
            finally:
                session.close()
        return view.id

    return factory
