"""Shared set-up for the consent benchmarks: a migrated database, an app, and consent state rows for many
subjects written directly (the figures measure reads; writes have their own benchmark)."""

from __future__ import annotations

import datetime as dt
import random
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

PURPOSE = "personalized_recommendations"
SEED = 20250601


@contextmanager
def bench_app(database_url: str | None = None) -> Iterator[Any]:
    """A fresh app on a migrated SQLite file (or a fresh PostgreSQL database next to `database_url`)."""
    from governance import create_app
    from governance.migrations_support import upgrade

    with tempfile.TemporaryDirectory(prefix="consent-bench-") as tmp:
        created = None
        if database_url:
            sys.path.insert(0, str(ROOT))
            from tests.conftest import create_postgres_database, drop_postgres_database

            created = url = create_postgres_database(database_url, prefix="consent_bench")
        else:
            url = f"sqlite:///{tmp}/bench.sqlite3"
        try:
            upgrade(url)
            app = create_app({"ENV": "test", "INSTANCE_PATH": tmp, "DATABASE_URL": url, "LOG_LEVEL": "ERROR"})
            yield app
            app.extensions["governance.db"].dispose()
        finally:
            if created:
                drop_postgres_database(created)


def seed_states(app: Any, subjects: int, *, granted_share: float = 0.8) -> list[uuid.UUID]:
    """`subjects` state rows for PURPOSE: most granted to the current notice, the rest withdrawn."""
    import sqlalchemy as sa

    from governance.consent.models import ConsentState

    rng = random.Random(SEED)
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(subjects)]
    rows = [
        {
            "subject_id": sid,
            "purpose": PURPOSE,
            "decision": "granted" if rng.random() < granted_share else "withdrawn",
            "decided_at": now - dt.timedelta(days=rng.randint(1, 300)),
            "decided_seq": 1,
            "notice_version": 2,
            "objected": False,
            "objection_seq": 0,
            "last_seq": 1,
            "updated_at": now,
        }
        for sid in ids
    ]
    engine = app.extensions["governance.db"].engine
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(sa.insert(ConsentState), rows[start : start + 10_000])
    return ids


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 2),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] * 1e6, 2),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 2),
    }
