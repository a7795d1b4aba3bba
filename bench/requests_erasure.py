"""Erasure of one data subject without webhooks (target: under 200 ms).

Times the erasure as the worker runs it (`service.erase`: with no processor to wait for, both steps in ONE
transaction): withdraw all consents, crypto-shred (retention exception re-encryption included), notify
processors (none registered), flag models, sign the certificate and close the request. Also counts the SQL
statements per erasure (a SQLAlchemy event listener) and reports the load average. Prints one JSON object.
Sizes: 30 runs of a subject with 200 events (--quick: 5 runs).

    python bench/requests_erasure.py [--quick] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from requests_common import bench_app, file_request, make_subject, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--events", type=int, default=200, help="events per subject")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs

    from governance.requests import service

    with bench_app(args.database_url) as (app, url, _instance):
        from sqlalchemy import event

        db = app.extensions["governance.db"]
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_rest: statements.append(sql))
        times, counts, audit_counts = [], [], []
        for run in range(runs):
            subject = make_subject(app, f"erase{run}", events=args.events)
            request_id = file_request(app, subject, "erasure")
            with app.app_context():
                audit_before = _audit_entries(db)
                statements.clear()
                started = time.perf_counter()
                with db.session() as session, session.begin():
                    outcome = service.erase(session, request_id)
                times.append(time.perf_counter() - started)
                seen = [sql for sql in statements if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT"))]
                audit_added = _audit_entries(db) - audit_before
                # on PostgreSQL audit.record() inserts through the raw driver connection, out of the listener's
                # sight: count those round trips from the entries that appeared
                audit_seen = sum(sql.lstrip().startswith("INSERT INTO audit_entries") for sql in seen)
                counts.append(len(seen) + max(0, audit_added - audit_seen))
                audit_counts.append(audit_added)
            assert outcome.get("status") in ("completed", "partially_completed"), outcome
        print(
            json.dumps(
                {
                    "figure": "requests_erasure",
                    "backend": url.split(":", 1)[0],
                    "events_per_subject": args.events,
                    "webhooks": 0,
                    "target_s": 0.2,
                    **summary(times),
                    "statements_per_erasure": statistics.median(counts),
                    "audit_entries_per_erasure": statistics.median(audit_counts),
                    "commits_per_erasure": 1,
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "cpus": os.cpu_count(),
                }
            )
        )


def _audit_entries(db: Any) -> int:
    from sqlalchemy import func, select

    from governance.audit.models import AuditEntry

    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


if __name__ == "__main__":
    main()
