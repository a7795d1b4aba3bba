"""Export of one data subject with 10,000 events (target: under 2 s).

Times the export job's step: collect through the contract functions (clear profile, 10,000 decrypted events,
consent ledger and receipts, requests, lineage), write the ZIP (JSON + CSV), seal it (AES-256-GCM) and store
it, closing the request; one transaction, as the worker runs it. Prints one JSON object.

    python bench/requests_export.py [--quick] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from requests_common import bench_app, file_request, make_subject, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 events and 2 runs")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    events, runs = (1_000, 2) if args.quick else (args.events, args.runs)

    from governance.requests import service

    with bench_app(args.database_url) as (app, url, _instance):
        times, sizes = [], []
        for run in range(runs):
            subject = make_subject(app, f"export{run}", events=events)
            request_id = file_request(app, subject, "access")
            with app.app_context(), app.extensions["governance.db"].session() as session:
                started = time.perf_counter()
                with session.begin():
                    result = service.run_export(session, request_id)
                times.append(time.perf_counter() - started)
            assert result["events"] == events, result
            with app.app_context(), app.extensions["governance.db"].session() as session:
                sizes.append(service.get_request(session, request_id).result["size"])
        print(
            json.dumps(
                {
                    "figure": "requests_export",
                    "backend": url.split(":", 1)[0],
                    "events": events,
                    "bundle_bytes": sizes[0],
                    "target_s": 2.0,
                    **summary(times),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "cpus": os.cpu_count(),
                }
            )
        )


if __name__ == "__main__":
    main()
