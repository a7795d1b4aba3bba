"""Bulk check of 10,000 subjects for one purpose (target under 100 ms) among 100,000 state rows.

Reported as ratios to two references measured in the same run on the same ids:
- `floor`: the DB-API driver alone running the minimal query (subject id and decision, the ids as one bound
  value) with no rule, no ORM and no result mapping: what the database and driver cost at best;
- `in_list_2000`: the previous approach (SQLAlchemy Core `IN (…)` with one placeholder per id, chunks of 2,000).
Wall-clock and process CPU times are both given: on a shared machine the CPU time is the steadier figure.

    python bench/consent_check_many.py [--subjects 100000] [--batch 10000] [--repeats 15] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from consent_common import PURPOSE, SEED, bench_app, seed_states


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
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
        engine = app.extensions["governance.db"].engine
        if args.postgres:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE consent_state")
        rng = random.Random(SEED)
        t = ConsentState.__table__.c
        in_list = sa.select(t.subject_id, t.decision).where(
            t.purpose == PURPOSE, t.subject_id.in_(sa.bindparam("ids", expanding=True))
        )
        with app.app_context():
            session = app.extensions["governance.db"].session()
            service.check_many(session, ids[:100], PURPOSE)  # warm-up
            dbapi = session.connection().connection.dbapi_connection

            def floor(batch: list[Any]) -> list[Any]:
                if args.postgres:
                    with dbapi.cursor() as cur:
                        cur.execute(
                            "SELECT subject_id, decision FROM consent_state"
                            " WHERE purpose = %s AND subject_id = ANY(%s)",
                            (PURPOSE, batch),
                            binary=True,
                        )
                        return cur.fetchall()
                return dbapi.execute(
                    "SELECT subject_id, decision FROM consent_state"
                    " WHERE purpose = ? AND subject_id IN (SELECT value FROM json_each(?))",
                    (PURPOSE, json.dumps([u.hex for u in batch])),
                ).fetchall()

            def old(batch: list[Any]) -> None:
                for start in range(0, len(batch), 2000):
                    session.execute(in_list, {"ids": batch[start : start + 2000]}).all()

            samples: dict[str, list[tuple[float, float]]] = {"check": [], "floor": [], "old": []}
            for _ in range(args.repeats):
                batch = rng.sample(ids, args.batch)
                wall, cpu, result = _timed(lambda b=batch: service.check_many(session, b, PURPOSE))
                assert len(result) == args.batch
                samples["check"].append((wall, cpu))
                wall, cpu, rows = _timed(lambda b=batch: floor(b))
                assert len(rows) == args.batch
                samples["floor"].append((wall, cpu))
                wall, cpu, _ = _timed(lambda b=batch: old(b))
                samples["old"].append((wall, cpu))
            session.close()

    def median_ms(name: str, index: int) -> float:
        return statistics.median(s[index] for s in samples[name]) * 1000

    check_ms, check_cpu = median_ms("check", 0), median_ms("check", 1)
    floor_ms, floor_cpu = median_ms("floor", 0), median_ms("floor", 1)
    old_ms, old_cpu = median_ms("old", 0), median_ms("old", 1)
    print(
        json.dumps(
            {
                "figure": "consent_check_many",
                "database": "postgresql" if args.postgres else "sqlite",
                "subjects_in_table": args.subjects,
                "batch": args.batch,
                "repeats": args.repeats,
                "seed": SEED,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "check_many_median_ms": round(check_ms, 2),
                "check_many_cpu_median_ms": round(check_cpu, 2),
                "reference_floor_dbapi_median_ms": round(floor_ms, 2),
                "reference_floor_dbapi_cpu_median_ms": round(floor_cpu, 2),
                "reference_in_list_2000_median_ms": round(old_ms, 2),
                "reference_in_list_2000_cpu_median_ms": round(old_cpu, 2),
                "ratio_to_floor": round(check_ms / floor_ms, 2),
                "ratio_to_in_list_2000": round(check_ms / old_ms, 2),
                "target_ms": 100,
            }
        )
    )


if __name__ == "__main__":
    main()
