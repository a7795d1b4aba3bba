"""Training test helpers: a population made through the vault's and consent's services (never their tables),
an OAuth client registered for model_training, and a worker."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.db import transaction

SYSTEM = Principal.system("training-tests")
PURPOSE = "model_training"  # policies/purposes.yaml: k = 10, budget epsilon 10, delta 1e-5
ALL_CATEGORIES = frozenset({"view", "click", "purchase", "rating", "search", "chat_intent"})
ITEMS = [f"sku-{i:03d}" for i in range(30)]  # three taste groups of ten items


@dataclass
class Population:
    ids: list[uuid.UUID] = field(default_factory=list)
    refs: dict[uuid.UUID, str] = field(default_factory=dict)


@contextmanager
def db_session(app: Flask) -> Iterator[Session]:
    """A short-lived session in its own app context, closed on exit.

    (The shared ``session`` fixture keeps an app context pushed for the whole test, which the test client's
    requests would then share: their request session would stay open and, on SQLite, hold the write lock.)
    """
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            yield session
        finally:
            session.close()


@pytest.fixture
def people(app: Flask) -> Callable[..., Population]:
    """``n`` people with consent to model_training: device mobile (most buy) or desktop (few buy), and views of
    items from one of three taste groups. Fixed seed."""

    def make(n: int, *, seed: int = 0) -> Population:
        with db_session(app) as session:
            return _populate(session, n, seed)

    return make


def _populate(session: Session, n: int, seed: int) -> Population:
    from governance.consent import service as consent
    from governance.vault import service as vault

    rng = random.Random(seed)
    out = Population()
    for i in range(n):
        ref = f"person-{uuid.uuid4().hex[:12]}"
        mobile = i % 2 == 0
        profile: dict[str, Any] = {"country": "de", "device": "mobile" if mobile else "desktop"}
        with transaction(session):
            view = vault.create_subject(session, external_ref=ref, actor=SYSTEM, profile=profile)
            consent.record_decisions(
                session,
                view.id,
                [{"purpose": PURPOSE, "decision": "granted"}],
                method="api",
                actor=SYSTEM,
                jurisdiction="EU",
            )
        group = i % 3
        start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
        events = [
            {
                "event_id": f"v-{i}-{j}",
                "category": "view",
                "occurred_at": (start + dt.timedelta(minutes=j)).isoformat(),
                "item_id": ITEMS[group * 10 + rng.randrange(10)],
                "context": {"time_of_day": "morning", "device": profile["device"]},
            }
            for j in range(6)
        ]
        if rng.random() < (0.85 if mobile else 0.15):
            events.append(
                {
                    "event_id": f"p-{i}",
                    "category": "purchase",
                    "occurred_at": (start + dt.timedelta(hours=1)).isoformat(),
                    "item_id": ITEMS[group * 10],
                    "context": {"currency": "EUR", "quantity": 1},
                }
            )
        with transaction(session):
            report = vault.ingest_events(session, view.id, events, actor=SYSTEM, lawful_categories=ALL_CATEGORIES)
        assert report.accepted == len(events), report
        out.ids.append(view.id)
        out.refs[view.id] = ref
    return out


@pytest.fixture
def trainer(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    """Bearer headers of a model service with training:submit, registered for model_training."""
    return bearer(["training:submit"], [PURPOSE])


@pytest.fixture
def drain(app: Flask) -> Callable[[], int]:
    from governance.jobs.worker import drain as drain_jobs

    return lambda: drain_jobs(app, kinds=["training.run"])


def classifier_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": PURPOSE,
        "kind": "classifier",
        "dataset": {"fields": ["country", "device"], "event_categories": ["view", "purchase"]},
        "label": {"event_category": "purchase"},
        "privacy": {"epsilon": 3.0, "delta": 1e-6},
        "training": {"epochs": 3, "batch_size": 16, "max_grad_norm": 1.0, "learning_rate": 0.05, "seed": 1},
    }
    body.update(overrides)
    return body


def recommender_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": PURPOSE,
        "kind": "recommender",
        "dataset": {"fields": [], "event_categories": ["view"]},
        "items": ITEMS,
        "privacy": {"epsilon": 4.0, "delta": 1e-6},
        "training": {"epochs": 3, "batch_size": 16, "max_interactions": 20, "seed": 2, "embedding_dim": 8},
    }
    body.update(overrides)
    return body


def naive_bayes_request(**overrides: Any) -> dict[str, Any]:
    body = classifier_request(kind="dpl_naive_bayes", privacy={"epsilon": 1.0, "delta": 0.0})
    body.pop("training")
    body.update(overrides)
    return body
