"""Batch event intake through the vault's service (validate, encrypt per subject, store, audit) in events per
second, on SQLite and PostgreSQL. Target: at least 20,000 events/s on each.

Batches of 10,000 events (the API's maximum per request), one transaction each, spread over many subjects.
Sizes: 20 batches of 10,000 events (--quick: 2 of 5,000). Prints one JSON object; `--backend sqlite|postgresql|both`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from governance.access.principals import Principal
from governance.db import make_engine
from governance.migrations_support import upgrade
from governance.vault import service
from governance.vault.crypto import BlindIndex, Envelope
from governance.vault.keyproviders import StaticKeyProvider
from governance.vault.runtime import DEFAULT_CATEGORIES, VaultRuntime, cached_catalog, configure

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACTOR = Principal.system("bench")
CATEGORIES = ["view", "click", "purchase", "rating", "search"]
LAWFUL = frozenset(CATEGORIES)


def make_events(rng: random.Random, start: int, count: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events = []
    for n in range(start, start + count):
        category = CATEGORIES[n % len(CATEGORIES)]
        event: dict[str, Any] = {
            "event_id": f"e{n}",
            "category": category,
            "occurred_at": (base + dt.timedelta(seconds=n)).isoformat(),
            "context": {"time_of_day": rng.choice(["morning", "afternoon", "evening", "night"]), "device": "mobile"},
        }
        if category != "search":
            event["item_id"] = f"sku-{rng.randrange(50_000)}"
        else:
            event["context"]["query"] = rng.choice(["shoes", "red dress", "headphones", "garden chair"])
        if category == "view":
            event["value"] = round(rng.uniform(1, 300), 1)
        elif category == "rating":
            event["value"] = rng.randint(1, 5)
        elif category == "purchase":
            event["value"] = round(rng.uniform(5, 200), 2)
        events.append(event)
    return events


def run(url: str, *, batches: int, batch_size: int) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    Session = sessionmaker(engine, expire_on_commit=False)
    rng = random.Random(20261128)
    subjects = []
    with Session() as session, session.begin():
        for n in range(batches):
            subjects.append(service.create_subject(session, external_ref=f"bench-{n}", actor=ACTOR).id)
    payloads = [make_events(rng, n * batch_size, batch_size) for n in range(batches)]
    accepted = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    for subject_id, events in zip(subjects, payloads, strict=True):
        with Session() as session, session.begin():
            report = service.ingest_events(session, subject_id, events, actor=ACTOR, lawful_categories=LAWFUL)
        accepted += report.accepted
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # a second pass of the same batches: idempotent duplicates, nothing stored twice
    with Session() as session, session.begin():
        duplicates = service.ingest_events(
            session, subjects[0], payloads[0], actor=ACTOR, lawful_categories=LAWFUL
        ).duplicates
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM vault_events")).scalar_one()
    engine.dispose()
    return {
        "events": accepted,
        "stored": stored,
        "duplicates_on_replay": duplicates,
        "seconds": round(elapsed, 3),
        "events_per_s": round(accepted / elapsed),
        # this process's CPU only (the PostgreSQL server's work is not in it): a load-independent view
        "events_per_client_cpu_s": round(accepted / cpu),
    }


def run_http(url: str, tmp: str, *, batches: int, batch_size: int) -> dict[str, Any]:
    """The same batches through POST /api/v1/subjects/<id>/events (JSON parsing, body model, bearer token,
    Cedar authorization, consent lookup, intake), with the Flask test client (no network)."""
    from governance import create_app
    from governance.access import tokens
    from governance.consent import service as consent
    from governance.db import transaction

    upgrade(url)
    app = create_app({"ENV": "test", "DATABASE_URL": url, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING"})
    database = app.extensions["governance.db"]
    with app.app_context():
        session = database.session()
        with transaction(session):
            registered = tokens.register_client(
                session, name="bench product", scopes={"subjects:write", "events:write"}, actor=ACTOR
            )
            issued = tokens.issue_token(
                session, tokens.get_client(session, registered.client_id), {"subjects:write", "events:write"}
            )
        session.close()
    headers = {"Authorization": f"Bearer {issued.access_token}"}
    client = app.test_client()
    rng = random.Random(20261128)
    subjects = []
    for n in range(batches):
        response = client.post("/api/v1/subjects", json={"external_ref": f"http-{n}"}, headers=headers)
        subjects.append(response.get_json()["id"])
    with app.app_context():
        session = database.session()
        with transaction(session):
            for subject_id in subjects:
                consent.record_decisions(
                    session,
                    uuid.UUID(subject_id),
                    [{"purpose": "personalized_recommendations", "decision": "granted"}],
                    method="api",
                    actor=ACTOR,
                    jurisdiction="EU",
                )
        session.close()
    bodies = [json.dumps({"events": make_events(rng, n * batch_size, batch_size)}) for n in range(batches)]
    accepted = 0
    started = time.perf_counter()
    for subject_id, body in zip(subjects, bodies, strict=True):
        response = client.post(
            f"/api/v1/subjects/{subject_id}/events", data=body, content_type="application/json", headers=headers
        )
        accepted += response.get_json()["accepted"]
    elapsed = time.perf_counter() - started
    database.dispose()
    return {"events": accepted, "seconds": round(elapsed, 3), "events_per_s": round(accepted / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--http", action="store_true", help="also measure through the HTTP route (SQLite)")
    args = parser.parse_args()
    batches, batch_size = (2, 5_000) if args.quick else (20, 10_000)
    configure(
        VaultRuntime(
            Envelope(StaticKeyProvider({1: bytes(range(32))})),
            BlindIndex(bytes(range(32, 64))),
            cached_catalog(DEFAULT_CATEGORIES),
        )
    )
    results: dict[str, Any] = {"figure": "vault_intake", "batch_size": batch_size, "batches": batches, "target": 20_000}
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", batches=batches, batch_size=batch_size)
    if args.http:
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite_http"] = run_http(
                f"sqlite:///{Path(tmp) / 'http.sqlite3'}", tmp, batches=batches, batch_size=batch_size
            )
    if args.backend in ("postgresql", "both"):
        name = f"vault_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            results["postgresql"] = run(
                sa.make_url(PG_BASE).set(database=name).render_as_string(hide_password=False),
                batches=batches,
                batch_size=batch_size,
            )
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["cpus"] = os.cpu_count()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
