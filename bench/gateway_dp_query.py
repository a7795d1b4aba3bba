"""DP query latency for 100,000 subjects: count of events and a daily histogram of their times (SQL
aggregates with the per-person bound in SQL, nothing decrypted), mean (bounded, 10 rows per subject) and
histogram of event values, and mean age from the profile (these decrypt: values are encrypted), each end to end
through the gateway's query service (policy check, budget reservation, consent snapshot, the read, the noise,
commit, audit), against the reference named in issue 16: a plain SQL `COUNT` of the same rows (the events of
the category, no consent, no bound).

Sizes: 100,000 subjects x 10 events (--quick: 10,000 x 10), seed 20261128. Uses the population of
bench/gateway_release.py (created on first use). `--contended` runs one CPU burner per core meanwhile.
Usage: python bench/gateway_dp_query.py [--quick] [--contended]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_common import PURPOSE, SEED, app_context, bench_dir, contended, populate

QUERIES = [
    {"statistic": "count", "event_category": "view", "max_rows_per_subject": 10},
    {"statistic": "mean", "event_category": "view", "bounds": (0.0, 600.0), "max_rows_per_subject": 10},
    {"statistic": "histogram", "event_category": "purchase", "bounds": (0.0, 300.0), "bins": 10},
    # over time (stored in clear): the population's 30 days (gateway_common) in daily bins, nothing decrypted
    {
        "statistic": "histogram",
        "event_category": "view",
        "over": "occurred_at",
        "since": dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        "until": dt.datetime(2026, 10, 31, tzinfo=dt.UTC),
        "bins": 30,
        "max_rows_per_subject": 10,
    },
    {"statistic": "mean", "profile_value": "age", "bounds": (0.0, 100.0)},
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 subjects x 10 events (checks the script)")
    parser.add_argument("--contended", action="store_true", help="one CPU burner per core during the run")
    return parser.parse_args()


def _plain_count(db: object, category: str) -> dict[str, float]:
    """The reference: the bench reads the vault's table directly (the service never does)."""
    import sqlalchemy as sa

    start, cpu = time.perf_counter(), time.process_time()
    with db.session() as session:  # type: ignore[attr-defined]
        count = session.execute(
            sa.text("SELECT COUNT(*) FROM vault_events WHERE category = :c"), {"c": category}
        ).scalar_one()
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "rows": count}


def main() -> None:
    args = parse_args()
    from governance.access.principals import Principal
    from governance.gateway import dpqueries

    subjects, per = (10_000, 10) if args.quick else (100_000, 10)
    directory = bench_dir(subjects, per)
    populate(directory, subjects, per)
    client = Principal(kind="client", id="bench", scopes=frozenset({"datasets:request"}), purposes=frozenset({PURPOSE}))
    results = []
    with contended(args.contended) as burners, app_context(directory) as app:
        load_start = os.getloadavg()[0]
        db = app.extensions["governance.db"]
        reference = _plain_count(db, "view")
        # the first DP query of a process imports diffprivlib (scipy, sklearn): measured apart, once
        start = time.perf_counter()
        import diffprivlib.mechanisms  # noqa: F401

        import_seconds = time.perf_counter() - start
        for spec in QUERIES:
            query = dpqueries.DPQueryRequest(purpose=PURPOSE, epsilon=Decimal("0.1"), **spec)
            start, cpu = time.perf_counter(), time.process_time()
            record = dpqueries.run_dp_query(db.session, client=client, query=query, random_state=1)
            seconds = time.perf_counter() - start
            results.append(
                {
                    "query": {k: str(v) if isinstance(v, dt.datetime) else v for k, v in spec.items() if k != "bounds"},
                    "decrypts": not (dpqueries.counts_in_clear(query) or query.over_time),
                    "seconds": round(seconds, 3),
                    "cpu_seconds": round(time.process_time() - cpu, 3),
                    "ratio_to_plain_count": round(seconds / reference["seconds"], 1),
                    "epsilon": record.result["epsilon"],
                }
            )
        load_end = os.getloadavg()[0]
    print(
        json.dumps(
            {
                "figure": "gateway_dp_query_latency",
                "subjects": subjects,
                "events": subjects * per,
                "seed": SEED,
                "backend": "sqlite",
                "contended": bool(burners),
                "cpu_burners": burners,
                "load_average_1min": [round(load_start, 1), round(load_end, 1)],
                "diffprivlib_import_seconds": round(import_seconds, 2),
                "plain_sql_count": {k: round(v, 3) if isinstance(v, float) else v for k, v in reference.items()},
                "queries": results,
                "target": {"count_seconds": 1},
            }
        )
    )


if __name__ == "__main__":
    main()
