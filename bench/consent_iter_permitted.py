"""Streaming the subjects permitted for a purpose: 100,000 permitted subjects among 125,000 state rows (target
under 1 s), as a ratio to a floor measured in the same run: the DB-API driver alone streaming the bare
`subject_id` column of the granted rows (a named server-side cursor on PostgreSQL, as the service uses), with no
rule and no conversion. Wall-clock and process CPU times are both given (on a shared machine CPU is steadier).

    python bench/consent_iter_permitted.py [--permitted 100000] [--repeats 5] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from consent_common import PURPOSE, SEED, bench_app, seed_states

BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--permitted", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.permitted, args.repeats = 5_000, 2
    from governance.consent import service

    total = int(args.permitted / 0.8)  # 80% granted, the rest withdrawn
    bare = "SELECT subject_id FROM consent_state WHERE purpose = {p} AND decision = 'granted'"
    with bench_app(args.postgres) as app:
        seed_states(app, total)
        engine = app.extensions["governance.db"].engine
        if args.postgres:  # what autovacuum does in production: statistics and the visibility map
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE consent_state")
        with app.app_context():
            session = app.extensions["governance.db"].session()
            dbapi = session.connection().connection.dbapi_connection

            def floor() -> int:
                count = 0
                if args.postgres:
                    with dbapi.cursor(name="bench_floor") as cur:
                        cur.execute(bare.format(p="%s"), (PURPOSE,))
                        while rows := cur.fetchmany(BATCH):
                            count += len(rows)
                    return count
                cur = dbapi.execute(bare.format(p="?"), (PURPOSE,))
                while rows := cur.fetchmany(BATCH):
                    count += len(rows)
                return count

            samples: dict[str, list[tuple[float, float]]] = {"stream": [], "floor": []}
            counts = []
            for _ in range(args.repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                count = sum(1 for _ in service.iter_permitted_subjects(session, PURPOSE, batch_size=BATCH))
                samples["stream"].append((time.perf_counter() - wall, time.process_time() - cpu))
                counts.append(count)
                wall, cpu = time.perf_counter(), time.process_time()
                floor()
                samples["floor"].append((time.perf_counter() - wall, time.process_time() - cpu))
            session.close()

    def median_ms(name: str, index: int) -> float:
        return statistics.median(s[index] for s in samples[name]) * 1000

    stream_ms, floor_ms = median_ms("stream", 0), median_ms("floor", 0)
    print(
        json.dumps(
            {
                "figure": "consent_iter_permitted",
                "database": "postgresql" if args.postgres else "sqlite",
                "state_rows": total,
                "permitted": counts[0],
                "batch": BATCH,
                "repeats": args.repeats,
                "seed": SEED,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "stream_median_ms": round(stream_ms, 1),
                "stream_cpu_median_ms": round(median_ms("stream", 1), 1),
                "reference_floor_dbapi_median_ms": round(floor_ms, 1),
                "reference_floor_dbapi_cpu_median_ms": round(median_ms("floor", 1), 1),
                "ratio_to_floor": round(stream_ms / floor_ms, 2),
                "subjects_per_second": round(counts[0] / (stream_ms / 1000)),
                "target_ms": 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
