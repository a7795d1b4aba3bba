"""Consent writes in-process through the Flask test client (2 purposes per request, a fresh Idempotency-Key
each, bearer token auth): SQL statements per request (BEGIN and COMMIT included, counted with SQLAlchemy event
listeners) and CPU time per request as a ratio to `/healthz` in the same process.

    python bench/consent_write_inprocess.py [--requests 2000] [--subjects 500] [--rounds 10] [--postgres URL]
                                            [--quick]

Sizes: 2,000 writes over 500 subjects (SQLite file by default), 2,000 `/healthz` calls, timed in 10 interleaved
rounds (each: 200 `/healthz` calls, then 200 writes); statements counted on 100 further writes, untimed;
--quick: 200 writes over 50 subjects.
Targets (issue 16): at most 6 statements per write, at most 5x the CPU of `/healthz`.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20261202
PURPOSES = ("marketing_email", "personalized_recommendations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="writes and /healthz calls (default 2000)")
    parser.add_argument("--subjects", type=int, default=500, help="subjects written to (default 500)")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--profile", default=None, help="write a pyinstrument HTML profile of the writes here")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds (default 10)")
    parser.add_argument("--quick", action="store_true", help="200 writes over 50 subjects")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.subjects = 200, 50

    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.migrations_support import upgrade
    from governance.vault import service as vault

    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp(prefix="consent-write-bench-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # the database and keys go with the process
    created = None
    if args.postgres:
        from tests.conftest import create_postgres_database

        url = created = create_postgres_database(args.postgres, prefix="consent_write_bench")
    else:
        url = f"sqlite:///{tmp}/bench.sqlite3"
    try:
        upgrade(url)
        app = create_app(
            {
                "ENV": "test",
                "INSTANCE_PATH": tmp,
                "DATABASE_URL": url,
                "LOG_LEVEL": "ERROR",
                "RATELIMIT_DEFAULT": "10000000/minute",
            }
        )
        db = app.extensions["governance.db"]
        actor = Principal.system("bench")
        with app.app_context():
            session = db.session()
            with session.begin():
                registered = tokens.register_client(
                    session, name="bench", scopes={"consents:write"}, purposes=set(), actor=actor
                )
                token = tokens.issue_token(
                    session, tokens.get_client(session, registered.client_id), {"consents:write"}
                ).access_token
                subjects = [
                    vault.create_subject(session, external_ref=f"b{i}", actor=actor).id for i in range(args.subjects)
                ]
            session.close()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        bodies = [
            (
                rng.choice(subjects),
                {"decisions": [{"purpose": p, "decision": rng.choice(("granted", "withdrawn"))} for p in PURPOSES]},
            )
            for _ in range(args.requests)
        ]
        for subject, body in bodies[:20]:  # warm-up: catalog, signing key, statement caches
            client.post(
                f"/api/v1/subjects/{subject}/consents",
                json=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
        for _ in range(50):
            client.get("/healthz")

        from bench._statements import StatementCounter
        from bench.bench_profile import maybe_profile

        def write(subject: object, body: dict[str, object]) -> int:
            return client.post(
                f"/api/v1/subjects/{subject}/consents",
                json=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code

        # Statements are counted on writes of their own, outside the timed rounds: the counter's listeners
        # would otherwise add their own cost to the writes but not to /healthz.
        counter = StatementCounter(db.engine)
        counted = bodies[: min(100, len(bodies))]
        for subject, body in counted:
            write(subject, body)
        counter.remove()

        # Timed in interleaved rounds (each round: its share of /healthz calls, then its share of writes), so
        # that a change in the machine's speed during the run (load, CPU frequency) falls on both sides of the
        # ratio alike; the ratio is total write CPU over total /healthz CPU, with each round's own ratio beside.
        statuses: dict[int, int] = {}
        healthz_total = write_total = 0.0
        round_ratios: list[float] = []
        healthz_rounds: list[float] = []  # CPU per call in each round
        write_rounds: list[float] = []
        per_round = max(1, args.requests // args.rounds)
        with maybe_profile(args.profile):
            for start in range(0, args.requests, per_round):
                chunk = bodies[start : start + per_round]
                began = time.process_time()
                for _ in chunk:
                    client.get("/healthz")
                healthz_cpu = time.process_time() - began
                began = time.process_time()
                for subject, body in chunk:
                    status = write(subject, body)
                    statuses[status] = statuses.get(status, 0) + 1
                write_cpu = time.process_time() - began
                healthz_total += healthz_cpu
                write_total += write_cpu
                healthz_rounds.append(healthz_cpu / len(chunk))
                write_rounds.append(write_cpu / len(chunk))
                if healthz_cpu > 0:
                    round_ratios.append(round(write_cpu / healthz_cpu, 2))
        write_cpu = write_total / args.requests
        healthz_cpu = healthz_total / args.requests
        kinds = counter.kinds()
        db.dispose()
    finally:
        if created:
            from tests.conftest import drop_postgres_database

            drop_postgres_database(created)
    print(
        json.dumps(
            {
                "figure": "consent_write_inprocess",
                "database": "postgresql" if args.postgres else "sqlite",
                "sizes": {"requests": args.requests, "subjects": args.subjects, "purposes_per_write": len(PURPOSES)},
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "status_codes": {str(k): v for k, v in sorted(statuses.items())},
                "statements_per_write": round(len(counter.statements) / len(counted), 2),
                "statements_by_kind_per_write": {k: round(v / len(counted), 2) for k, v in sorted(kinds.items())},
                "statements_counted_on": len(counted),
                "write_cpu_ms": round(write_cpu * 1000, 3),
                "healthz_cpu_ms": round(healthz_cpu * 1000, 3),
                "ratio_write_cpu_to_healthz": round(write_cpu / healthz_cpu, 2),
                "rounds": len(round_ratios),
                "round_ratios": round_ratios,
                "median_round_ratio": statistics.median(round_ratios) if round_ratios else None,
                # each side's fastest round: the cost with the least interference from the rest of the machine
                "fastest_round_write_cpu_ms": round(min(write_rounds) * 1000, 3),
                "fastest_round_healthz_cpu_ms": round(min(healthz_rounds) * 1000, 3),
                "ratio_of_fastest_rounds": round(min(write_rounds) / min(healthz_rounds), 2),
                "target": "<= 6 statements per write, <= 5x the CPU of /healthz",
            }
        )
    )


if __name__ == "__main__":
    main()
