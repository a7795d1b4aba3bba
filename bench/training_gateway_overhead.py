"""Gateway overhead of a training job: building the training data (consent filter, decryption, minimization,
pseudonyms, generalization, k-anonymity) as a share of the whole job. Target: under 20%.

Creates a fresh SQLite database (or uses GOVERNANCE_BENCH_DATABASE_URL), a population made through the vault and
consent services, submits one DP classifier job through the service and runs it on the worker. Prints one JSON
object.

    python bench/training_gateway_overhead.py            # 1,000 people, 8 events each, 5 epochs
    python bench/training_gateway_overhead.py --quick    # 200 people
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PURPOSE = "model_training"
CATEGORIES = frozenset({"view", "click", "purchase", "rating", "search", "chat_intent"})


def populate(app, n: int, events: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    from governance.access.principals import Principal
    from governance.consent import service as consent
    from governance.db import transaction
    from governance.vault import service as vault

    actor = Principal.system("bench")
    rng = random.Random(seed)
    started = time.perf_counter()
    with app.app_context():
        session = app.extensions["governance.db"].session()
        for i in range(n):
            mobile = i % 2 == 0
            with transaction(session):
                view = vault.create_subject(
                    session,
                    external_ref=f"bench-{uuid.uuid4().hex[:12]}",
                    actor=actor,
                    profile={"country": "de" if i % 3 else "at", "device": "mobile" if mobile else "desktop"},
                )
                consent.record_decisions(
                    session,
                    view.id,
                    [{"purpose": PURPOSE, "decision": "granted"}],
                    method="api",
                    actor=actor,
                    jurisdiction="EU",
                )
            start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
            batch = [
                {
                    "event_id": f"v-{i}-{j}",
                    "category": "view",
                    "occurred_at": (start + dt.timedelta(minutes=j)).isoformat(),
                    "item_id": f"sku-{rng.randrange(50)}",
                }
                for j in range(events)
            ]
            if rng.random() < (0.8 if mobile else 0.2):
                batch.append(
                    {
                        "event_id": f"p-{i}",
                        "category": "purchase",
                        "occurred_at": (start + dt.timedelta(hours=2)).isoformat(),
                        "item_id": "sku-0",
                    }
                )
            with transaction(session):
                vault.ingest_events(session, view.id, batch, actor=actor, lawful_categories=CATEGORIES)
        session.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--events", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.people = 200

    import os

    from governance import create_app
    from governance.access.principals import Principal
    from governance.db import transaction
    from governance.jobs.worker import drain
    from governance.migrations_support import upgrade
    from governance.training import service
    from governance.training.schemas import TrainingJobIn

    workdir = Path(tempfile.mkdtemp(prefix="bench-training-"))
    url = os.environ.get("GOVERNANCE_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(url)
    app = create_app(
        {
            "ENV": "test",
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(workdir),
            "LOG_LEVEL": "ERROR",
            "BASE_URL": "http://b",
        }
    )
    populate_seconds = populate(app, args.people, args.events, args.seed)
    client = Principal(
        kind="client", id="bench-trainer", scopes=frozenset({"training:submit"}), purposes=frozenset({PURPOSE})
    )
    body = TrainingJobIn.model_validate(
        {
            "purpose": PURPOSE,
            "kind": "classifier",
            "dataset": {"fields": ["country", "device"], "event_categories": ["view", "purchase"]},
            "label": {"event_category": "purchase"},
            "privacy": {"epsilon": 3.0, "delta": 1e-6},
            "training": {"epochs": args.epochs, "batch_size": 64, "seed": args.seed},
        }
    )
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with transaction(session):
            job = service.submit_job(session, body, actor=client)
        session.close()
    started = time.perf_counter()
    drain(app, kinds=["training.run"])
    job_seconds = time.perf_counter() - started
    with app.app_context():
        session = app.extensions["governance.db"].session()
        view = service.get_job(session, job.id)
        from governance.training.models import TrainingJob

        timings = dict(session.get(TrainingJob, job.id).timings or {})
        session.close()
    app.extensions["governance.db"].dispose()
    data_seconds = timings.get("data_seconds", float("nan"))
    print(
        json.dumps(
            {
                "figure": "training_gateway_overhead",
                "people": args.people,
                "view_events_per_person": args.events,
                "epochs": args.epochs,
                "status": view.status,
                "n_subjects": view.n_subjects,
                "job_seconds": job_seconds,
                "gateway_build_seconds": data_seconds,
                "gateway_share": data_seconds / job_seconds,
                "target_share": 0.2,
                "training": {k: v for k, v in timings.items() if k != "data_seconds"},
                "epsilon_spent": view.epsilon_spent,
                "metrics": view.metrics,
                "populate_seconds": populate_seconds,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "database": url.split(":", 1)[0],
            }
        )
    )


if __name__ == "__main__":
    main()
