"""Shared set-up for the requests benchmarks: a migrated database (SQLite file or a fresh PostgreSQL database),
an app, and data subjects with profile, consents and events created through the real services."""

from __future__ import annotations

import datetime as dt
import math
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261128
SYSTEM_ID = "requests-bench"
CATEGORIES = ("view", "click", "purchase", "rating", "search")


@contextmanager
def bench_app(database_url: str | None = None, **settings: str) -> Iterator[tuple[Any, str, Path]]:
    """(app, database url, instance folder) on a migrated SQLite file or a fresh PostgreSQL database."""
    from governance import create_app
    from governance.migrations_support import upgrade

    with tempfile.TemporaryDirectory(prefix="requests-bench-") as tmp:
        created = None
        if database_url:
            from tests.conftest import create_postgres_database, drop_postgres_database

            created = url = create_postgres_database(database_url, prefix="requests_bench")
        else:
            url = f"sqlite:///{tmp}/bench.sqlite3"
        try:
            upgrade(url)
            config = {"ENV": "test", "INSTANCE_PATH": tmp, "DATABASE_URL": url, "LOG_LEVEL": "ERROR", **settings}
            app = create_app(config)
            yield app, url, Path(tmp)
            app.extensions["governance.db"].dispose()
        finally:
            if created:
                drop_postgres_database(created)


def events_for(tag: str, count: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = []
    for n in range(count):
        category = CATEGORIES[n % len(CATEGORIES)]
        event: dict[str, Any] = {
            "event_id": f"{tag}-{n}",
            "category": category,
            "occurred_at": (base + dt.timedelta(seconds=n * 37)).isoformat(),
            "context": {"time_of_day": "evening", "device": "mobile"},
        }
        if category != "search":
            event["item_id"] = f"item-{n % 97}"
        if category == "view":
            event["value"] = 12.5
        if category == "rating":
            event["value"] = 4
        if category == "purchase":
            event["value"] = 19.99
            event["context"] = {"currency": "EUR", "quantity": 1}
        if category == "search":
            event["context"] = {"query": "running shoes"}
        out.append(event)
    return out


def make_subject(app: Any, tag: str, *, events: int) -> uuid.UUID:
    """One subject through the vault and consent services (real encryption, signed receipts)."""
    from governance.access.principals import Principal
    from governance.consent import service as consent
    from governance.db import transaction
    from governance.vault import service as vault

    actor = Principal.system(SYSTEM_ID)
    with app.app_context(), app.extensions["governance.db"].session() as session:
        with transaction(session):
            view = vault.create_subject(
                session,
                external_ref=f"bench-{tag}",
                actor=actor,
                profile={"email": f"{tag}@example.org", "name": f"Bench {tag}", "country": "de", "language": "de"},
            )
            consent.record_decisions(
                session,
                view.id,
                [{"purpose": "personalized_recommendations", "decision": "granted"}],
                method="api",
                actor=actor,
                jurisdiction="EU",
            )
        all_events = events_for(tag, events)
        for start in range(0, len(all_events), 5000):
            with transaction(session):
                lawful = consent.lawful_event_categories(session, view.id)
                vault.ingest_events(
                    session, view.id, all_events[start : start + 5000], actor=actor, lawful_categories=lawful
                )
    return view.id


def file_request(app: Any, subject_id: uuid.UUID, kind: str) -> uuid.UUID:
    from governance.access.principals import Principal
    from governance.db import transaction
    from governance.requests import service

    actor = Principal(kind="subject", id=f"bench-session-{subject_id.hex[:8]}", subject_id=subject_id)
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        filed = service.file_request(
            session, subject_id=subject_id, kind=kind, actor=actor, source="subject", verification_method="session"
        )
    return filed.request.id


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "runs": len(ordered),
        "median_s": round(statistics.median(ordered), 4),
        "p95_s": round(ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)], 4),
        "max_s": round(ordered[-1], 4),
    }
