"""Shared set-up for the gateway benchmarks: a migrated database populated through the vault's and consent's
services (subjects with profiles, consent to the purpose, events), kept on disk between runs."""

from __future__ import annotations

import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PURPOSE = "model_training"
SEED = 20261128
CATEGORIES = ("view", "click", "purchase")
SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "country", "device"],  # generalized: age band, country, device class
    "event_categories": list(CATEGORIES),
    "event_fields": ["category", "occurred_at", "item", "value"],
    "format": "jsonl",
}


def bench_dir(subjects: int, events: int) -> Path:
    return Path(tempfile.gettempdir()) / f"gateway-bench-v2-{subjects}x{events}"


def app_for(directory: Path) -> Any:
    from governance import create_app

    url = f"sqlite:///{directory}/bench.sqlite3"
    return create_app({"ENV": "test", "INSTANCE_PATH": str(directory), "DATABASE_URL": url, "LOG_LEVEL": "ERROR"})


def _profile(rng: random.Random, i: int) -> dict[str, str]:
    return {
        "birth_date": f"{rng.randint(1950, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "postal_code": f"{rng.randint(10, 99)}{rng.randint(0, 999):03d}",
        "country": rng.choice(["de", "fr", "at", "it", "es"]),
        "device": rng.choice(["mobile", "desktop", "tablet"]),
        "language": "en",
        "email": f"bench{i}@example.org",
    }


def _events(rng: random.Random, i: int, device: str, count: int, base: dt.datetime) -> list[dict[str, Any]]:
    batch = []
    for j in range(count):
        category = rng.choice(CATEGORIES)
        event: dict[str, Any] = {
            "event_id": f"e{i}-{j}",
            "category": category,
            "occurred_at": (base + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 30))).isoformat(),
            "item_id": f"item-{rng.randint(1, 5000)}",
            "context": {"device": device},
        }
        if category == "view":
            event["value"] = round(rng.uniform(0, 600), 1)
        elif category == "purchase":
            event["value"] = round(rng.uniform(1, 300), 2)
            event["context"]["currency"] = "EUR"
        batch.append(event)
    return batch


def populate(directory: Path, subjects: int, events_per_subject: int, *, batch: int = 2_000) -> dict[str, Any]:
    """Create the population once (a finished directory is reused), through the services all the same:
    `vault.create_subjects` (wrapped data keys, encrypted profiles, blind indexes, audit entries) for a batch of
    subjects, `consent.record_decisions` for each (consent has no bulk path; signed receipts and audit entries as
    usual), and `vault.ingest_events` per subject (validation, encryption, one executemany / COPY each), all of a
    batch in one transaction. Then ANALYZE, as an operator would after a bulk load."""
    done = directory / "populated.json"
    if done.exists():
        return json.loads(done.read_text())
    from governance.access.principals import Principal
    from governance.consent import service as consent
    from governance.db import transaction
    from governance.migrations_support import upgrade
    from governance.vault import service as vault

    directory.mkdir(parents=True, exist_ok=True)
    upgrade(f"sqlite:///{directory}/bench.sqlite3")
    app = app_for(directory)
    actor = Principal.system("gateway-bench")
    rng = random.Random(SEED)
    lawful = frozenset(CATEGORIES)
    start = time.perf_counter()
    phases = {"subjects": 0.0, "consent": 0.0, "events": 0.0}
    base = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with app.app_context():
        session = app.extensions["governance.db"].session()
        for first in range(0, subjects, batch):
            numbers = range(first, min(first + batch, subjects))
            profiles = [_profile(rng, i) for i in numbers]
            events = [
                _events(rng, i, p["device"], events_per_subject, base) for i, p in zip(numbers, profiles, strict=True)
            ]
            with transaction(session):
                t0 = time.perf_counter()
                views = vault.create_subjects(
                    session,
                    [{"external_ref": f"bench-{i}", "profile": p} for i, p in zip(numbers, profiles, strict=True)],
                    actor=actor,
                )
                t1 = time.perf_counter()
                for view in views:
                    consent.record_decisions(
                        session,
                        view.id,
                        [{"purpose": PURPOSE, "decision": "granted"}],
                        method="api",
                        actor=actor,
                        jurisdiction="EU",
                    )
                t2 = time.perf_counter()
                for view, batch_events in zip(views, events, strict=True):
                    vault.ingest_events(session, view.id, batch_events, actor=actor, lawful_categories=lawful)
                t3 = time.perf_counter()
            phases["subjects"] += t1 - t0
            phases["consent"] += t2 - t1
            phases["events"] += t3 - t2
            print(f"populated {numbers[-1] + 1}/{subjects} {phases}", file=sys.stderr, flush=True)
        session.close()
    app.extensions["governance.db"].dispose()
    import sqlite3

    with sqlite3.connect(directory / "bench.sqlite3") as db:
        db.execute("ANALYZE")
    info = {
        "subjects": subjects,
        "events": subjects * events_per_subject,
        "seconds": round(time.perf_counter() - start, 1),
        "phase_seconds": {k: round(v, 1) for k, v in phases.items()},
    }
    done.write_text(json.dumps(info))
    return info


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_subprocess(script: Path, *args: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (so that its peak memory is its own) and parse its JSON."""
    out = subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def app_context(directory: Path) -> Any:
    app = app_for(directory)
    with app.app_context():
        yield app
    app.extensions["governance.db"].dispose()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@contextmanager
def contended(enabled: bool) -> Iterator[int]:
    """With ``enabled``, one CPU burner per core for the duration (a contended run); yields how many."""
    import os

    from _load import cpu_burner

    with cpu_burner((os.cpu_count() or 1) if enabled else 0) as burners:
        yield burners


def cpu_seconds() -> float:
    """CPU of this process and of its reaped children (the partition processes of a release)."""
    from _load import own_cpu_seconds

    return own_cpu_seconds()
