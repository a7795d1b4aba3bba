"""DP query latency for 100,000 subjects: count, mean (bounded, 10 rows per subject), histogram of event values,
and mean age from the profile, each end to end through the gateway's query service (policy check, budget
reservation, consent snapshot, reading and decrypting through the vault, diffprivlib, commit, audit).

Sizes: 100,000 subjects x 10 events (--quick: 10,000 x 10), seed 20261128. Uses the population of
bench/gateway_release.py (created on first use). Usage: python bench/gateway_dp_query.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_common import PURPOSE, app_context, bench_dir, populate

QUERIES = [
    {"statistic": "count", "event_category": "view", "max_rows_per_subject": 10},
    {"statistic": "mean", "event_category": "view", "bounds": (0.0, 600.0), "max_rows_per_subject": 10},
    {"statistic": "histogram", "event_category": "purchase", "bounds": (0.0, 300.0), "bins": 10},
    {"statistic": "mean", "profile_value": "age", "bounds": (0.0, 100.0)},
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 subjects x 10 events (checks the script)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from governance.access.principals import Principal
    from governance.gateway import dpqueries

    subjects, per = (10_000, 10) if args.quick else (100_000, 10)
    directory = bench_dir(subjects, per)
    populate(directory, subjects, per)
    client = Principal(kind="client", id="bench", scopes=frozenset({"datasets:request"}), purposes=frozenset({PURPOSE}))
    results = []
    with app_context(directory) as app:
        db = app.extensions["governance.db"]
        for spec in QUERIES:
            query = dpqueries.DPQueryRequest(purpose=PURPOSE, epsilon=Decimal("0.1"), **spec)
            start, cpu = time.perf_counter(), time.process_time()
            record = dpqueries.run_dp_query(db.session, client=client, query=query, random_state=1)
            results.append(
                {
                    "query": {k: v for k, v in spec.items() if k != "bounds"},
                    "seconds": round(time.perf_counter() - start, 2),
                    "cpu_seconds": round(time.process_time() - cpu, 2),
                    "epsilon": record.result["epsilon"],
                }
            )
    print(
        json.dumps(
            {
                "figure": "gateway_dp_query_latency",
                "subjects": subjects,
                "events": subjects * per,
                "backend": "sqlite",
                "queries": results,
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
