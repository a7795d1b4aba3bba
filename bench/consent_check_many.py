"""Bulk check of 10,000 subjects for one purpose (target under 100 ms), as a ratio to fetching the same
rows with a bare SELECT … WHERE subject_id IN (…) through the same session.

    python bench/consent_check_many.py [--subjects 100000] [--batch 10000] [--repeats 10] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from consent_common import PURPOSE, SEED, bench_app, seed_states


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.batch, args.repeats = 5_000, 2_000, 3
    import sqlalchemy as sa

    from governance.consent import service
    from governance.consent.models import ConsentState

    with bench_app(args.postgres) as app:
        ids = seed_states(app, args.subjects)
        rng = random.Random(SEED)
        t = ConsentState.__table__.c
        raw_stmt = sa.select(t.subject_id, t.decision).where(
            t.purpose == PURPOSE, t.subject_id.in_(sa.bindparam("ids", expanding=True))
        )
        with app.app_context():
            session = app.extensions["governance.db"].session()
            service.check_many(session, ids[:100], PURPOSE)  # warm-up
            checks, raws = [], []
            for _ in range(args.repeats):
                batch = rng.sample(ids, args.batch)
                t0 = time.perf_counter()
                result = service.check_many(session, batch, PURPOSE)
                t1 = time.perf_counter()
                for start in range(0, len(batch), 2000):
                    session.execute(raw_stmt, {"ids": batch[start : start + 2000]}).all()
                t2 = time.perf_counter()
                assert len(result) == args.batch
                checks.append(t1 - t0)
                raws.append(t2 - t1)
            session.close()
    check_ms = statistics.median(checks) * 1000
    raw_ms = statistics.median(raws) * 1000
    print(
        json.dumps(
            {
                "figure": "consent_check_many",
                "database": "postgresql" if args.postgres else "sqlite",
                "subjects_in_table": args.subjects,
                "batch": args.batch,
                "repeats": args.repeats,
                "seed": SEED,
                "check_many_median_ms": round(check_ms, 2),
                "reference_raw_in_select_median_ms": round(raw_ms, 2),
                "ratio_to_raw_select": round(check_ms / raw_ms, 2),
                "target_ms": 100,
            }
        )
    )


if __name__ == "__main__":
    main()
