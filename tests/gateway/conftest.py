"""Gateway test helpers: a population of subjects with profiles, consents and events, made through the vault's
and consent's services (never their tables)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.db import transaction

SYSTEM = Principal.system("gateway-tests")
PURPOSE = "model_training"  # policies/purposes.yaml: k = 10, stable pseudonyms allowed
ALL_CATEGORIES = frozenset({"view", "click", "purchase", "rating", "search", "chat_intent"})
CANARY = {
    "email": "canary.person@example.org",
    "name": "Zebulon Canaryfield",
    "phone": "+49 151 9876 5432",
    "postal_address": "7 Canary Lane\n10115 Berlin",
}


def client_principal(client_id: str = "trainer", purposes: frozenset[str] = frozenset({PURPOSE})) -> Principal:
    return Principal(kind="client", id=client_id, scopes=frozenset({"datasets:request"}), purposes=purposes)


@dataclass
class Population:
    ids: list[uuid.UUID] = field(default_factory=list)
    item_of: dict[uuid.UUID, str] = field(default_factory=dict)  # a marker item id per subject
    refs: dict[uuid.UUID, str] = field(default_factory=dict)


@pytest.fixture
def populate(app: Flask) -> Callable[..., Population]:
    """Create `n` subjects (same generalized quasi-identifiers unless `varied`), each with `events` view events
    carrying a per-subject item id, and (with `grant`) consent to `purpose`."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    def make(*args: Any, **kwargs: Any) -> Population:
        # a context and session of its own, closed afterwards: requests made by the test must not share them
        with app.app_context():
            session = app.extensions["governance.db"].session()
            try:
                return _make(session, *args, **kwargs)
            finally:
                session.close()

    def _make(
        session: Session,
        n: int,
        *,
        events: int = 3,
        grant: bool = True,
        purpose: str = PURPOSE,
        varied: bool = False,
        population: Population | None = None,
    ) -> Population:
        out = population or Population()
        start = len(out.ids)
        for i in range(start, start + n):
            ref = f"user-{uuid.uuid4().hex[:12]}"
            profile: dict[str, Any] = {
                **CANARY,
                "postal_code": "10115" if not varied or i % 3 else "10999",  # same region "10"
                "birth_date": "1990-02-03" if not varied or i % 2 else "1975-07-01",
                "country": "de",
                "language": "de-DE",
                "device": "mobile",
            }
            with transaction(session):
                view = vault.create_subject(session, external_ref=ref, actor=SYSTEM, profile=profile)
                if grant:
                    consent.record_decisions(
                        session,
                        view.id,
                        [{"purpose": purpose, "decision": "granted"}],
                        method="api",
                        actor=SYSTEM,
                        jurisdiction="EU",
                    )
            item = f"marker-{i}"
            batch = [
                {
                    "event_id": f"evt-{i}-{j}",
                    "category": "view",
                    "occurred_at": (dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC) + dt.timedelta(minutes=j)).isoformat(),
                    "item_id": item,
                    "value": 10.0 + j,
                    "context": {"time_of_day": "morning", "device": "mobile"},
                }
                for j in range(events)
            ]
            if batch:
                with transaction(session):
                    report = vault.ingest_events(
                        session, view.id, batch, actor=SYSTEM, lawful_categories=ALL_CATEGORIES
                    )
                assert report.accepted == len(batch), report
            out.ids.append(view.id)
            out.item_of[view.id] = item
            out.refs[view.id] = ref
        return out

    return make
