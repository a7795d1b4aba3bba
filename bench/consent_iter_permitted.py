"""Streaming the subjects permitted for a purpose: 100,000 permitted subjects (target under 1 s), as a ratio to
streaming the same column with a bare SELECT through the same session.

    python bench/consent_iter_permitted.py [--permitted 100000] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from consent_common import PURPOSE, SEED, bench_app, seed_states


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--permitted", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.permitted, args.repeats = 5_000, 2
    import sqlalchemy as sa

    from governance.consent import service

    total = int(args.permitted / 0.8)  # 80% granted, the rest withdrawn
    with bench_app(args.postgres) as app:
        seed_states(app, total)
        raw_stmt = sa.text("SELECT subject_id FROM consent_state WHERE purpose = :p AND decision = 'granted'")
        with app.app_context():
            session = app.extensions["governance.db"].session()
            streams, raws, counts = [], [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                count = sum(1 for _ in service.iter_permitted_subjects(session, PURPOSE))
                t1 = time.perf_counter()
                for _row in session.execute(raw_stmt.execution_options(yield_per=5000), {"p": PURPOSE}):
                    pass
                t2 = time.perf_counter()
                streams.append(t1 - t0)
                raws.append(t2 - t1)
                counts.append(count)
            session.close()
    stream_ms = statistics.median(streams) * 1000
    raw_ms = statistics.median(raws) * 1000
    print(
        json.dumps(
            {
                "figure": "consent_iter_permitted",
                "database": "postgresql" if args.postgres else "sqlite",
                "state_rows": total,
                "permitted": counts[0],
                "seed": SEED,
                "stream_median_ms": round(stream_ms, 1),
                "reference_raw_select_median_ms": round(raw_ms, 1),
                "ratio_to_raw_select": round(stream_ms / raw_ms, 2),
                "subjects_per_second": round(counts[0] / (stream_ms / 1000)),
                "target_ms": 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
