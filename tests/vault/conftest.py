"""Vault test helpers: an actor, a subject factory, events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.db import transaction

ACTOR = Principal.system("vault-tests")
ALL_EVENT_CATEGORIES = frozenset({"view", "click", "purchase", "rating", "search", "chat_intent"})
PROFILE = {
    "email": "Jane.Doe@Example.com",
    "name": "Jane Doe",
    "phone": "+49 151 2345 6742",
    "postal_address": "1 Example Street\n10115 Berlin",
    "postal_code": "10115",
    "birth_date": "1990-02-03",
    "country": "de",
    "language": "de-DE",
    "device": "mobile",
}


@pytest.fixture(autouse=True)
def _restore_master_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Rotation tests add and retire master-key versions in the session's key file; put it back afterwards so
    that other tests (and other domains' tests in the same session) see the key file they started with."""
    if "app" not in request.fixturenames and "session" not in request.fixturenames:
        yield
        return
    from governance.vault.runtime import EXTENSION

    runtime = request.getfixturevalue("app").extensions[EXTENSION]
    path = getattr(runtime.provider, "path", None)
    saved = path.read_bytes() if path is not None else None
    yield
    if path is not None and saved is not None and path.read_bytes() != saved:
        path.write_bytes(saved)
        runtime.provider._reload(force=True)
    runtime.envelope.clear()


@pytest.fixture
def make_subject(session: Session) -> Callable[..., uuid.UUID]:
    from governance.vault import service

    def factory(external_ref: str | None = None, profile: dict[str, Any] | None = None, **kwargs: Any) -> uuid.UUID:
        with transaction(session):
            view = service.create_subject(
                session,
                external_ref=external_ref or f"user-{uuid.uuid4().hex[:12]}",
                actor=ACTOR,
                profile=PROFILE if profile is None else profile,
                **kwargs,
            )
        return view.id

    return factory


def event(n: int, category: str = "view", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"evt-{n}",
        "category": category,
        "occurred_at": (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)).isoformat(),
        "item_id": f"item-{n % 17}",
        "context": {"time_of_day": "evening", "device": "mobile"},
    }
    if category == "view":
        base["value"] = 12.5
    if category == "rating":
        base["value"] = 4
    if category == "search":
        base.pop("item_id")
        base["context"] = {"query": "red running shoes"}
    if category == "chat_intent":
        base.pop("item_id")
        base["context"] = {"intent": "order_status"}
    base.update(overrides)
    return base
