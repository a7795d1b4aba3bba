"""In-process `is_permitted` latency (target p50 under 50 µs), as a ratio to a bare primary-key SELECT of the
same row through the same SQLAlchemy session (the floor any database-backed check has to pay).

    python bench/consent_is_permitted.py [--subjects 100000] [--calls 20000] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from consent_common import PURPOSE, SEED, bench_app, seed_states, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.calls = 2_000, 2_000
    import sqlalchemy as sa

    from governance.consent import service

    with bench_app(args.postgres) as app:
        ids = seed_states(app, args.subjects)
        rng = random.Random(SEED)
        sample = [rng.choice(ids) for _ in range(args.calls)]
        raw_stmt = sa.text("SELECT decision FROM consent_state WHERE subject_id = :s AND purpose = :p")
        with app.app_context():
            session = app.extensions["governance.db"].session()
            for sid in sample[:500]:  # warm-up: caches, prepared statements, catalog
                service.is_permitted(session, sid, PURPOSE)
            checks, raws = [], []
            allowed = 0
            for sid in sample:
                t0 = time.perf_counter()
                permission = service.is_permitted(session, sid, PURPOSE)
                t1 = time.perf_counter()
                key = sid.hex if app.extensions["governance.db"].dialect == "sqlite" else sid
                session.execute(raw_stmt, {"s": key, "p": PURPOSE}).first()
                t2 = time.perf_counter()
                checks.append(t1 - t0)
                raws.append(t2 - t1)
                allowed += permission.allowed
            session.close()
    check, raw = summary(checks), summary(raws)
    print(
        json.dumps(
            {
                "figure": "consent_is_permitted",
                "database": "postgresql" if args.postgres else "sqlite",
                "subjects": args.subjects,
                "calls": args.calls,
                "seed": SEED,
                "is_permitted": check,
                "reference_raw_pk_select": raw,
                "ratio_p50_to_raw_select": round(check["p50_us"] / raw["p50_us"], 2),
                "target_p50_us": 50,
                "allowed_share": round(allowed / args.calls, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
