"""Consent test helpers: subjects created through the vault's service, a fixed clock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from governance.access.principals import Principal

SYSTEM = Principal.system("tests")
PRODUCT = Principal(kind="client", id="product-backend", scopes=frozenset({"consents:write"}))


@pytest.fixture
def make_subject(session: Session) -> Callable[[], uuid.UUID]:
    from governance.vault import service as vault

    def factory() -> uuid.UUID:
        view = vault.create_subject(session, external_ref=f"user-{uuid.uuid4().hex[:12]}", actor=SYSTEM)
        session.commit()
        return view.id

    return factory


@pytest.fixture
def subject(make_subject: Callable[[], uuid.UUID]) -> uuid.UUID:
    return make_subject()


def at(days: float = 0, **kwargs: float) -> dt.datetime:
    """A fixed moment after every shipped notice was published."""
    return dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(days=days, **kwargs)
