"""1,000 erasure requests queued at once, drained by 2 worker processes on PostgreSQL (report the rate).

Subjects (profile, one consent, a few events) are created through the services, then all erasure requests are
filed in one go; two `governance worker` processes (claiming with FOR UPDATE SKIP LOCKED) run the jobs.
The clock runs from the commit of the last request to the moment every request is closed. Prints one JSON object.

    python bench/requests_erasure_drain.py [--quick] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from requests_common import ROOT, bench_app, make_subject

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 erasures")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=5, help="events per subject")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    count = 100 if args.quick else args.requests

    import sqlalchemy as sa

    from governance.access.principals import Principal
    from governance.db import transaction
    from governance.requests import service
    from governance.requests.models import DataSubjectRequest

    with bench_app(args.database_url) as (app, url, instance):
        subjects = [make_subject(app, f"drain{n}", events=args.events) for n in range(count)]
        db = app.extensions["governance.db"]
        with app.app_context(), db.session() as session, transaction(session):
            for subject in subjects:
                actor = Principal(kind="subject", id=f"bench-{subject.hex[:8]}", subject_id=subject)
                service.file_request(
                    session,
                    subject_id=subject,
                    kind="erasure",
                    actor=actor,
                    source="subject",
                    verification_method="session",
                )
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
        env.update(
            GOVERNANCE_ENV="test",
            GOVERNANCE_DATABASE_URL=url,
            GOVERNANCE_INSTANCE_PATH=str(instance),
            GOVERNANCE_LOG_LEVEL="ERROR",
            GOVERNANCE_JOB_POLL_SECONDS="0.05",
        )
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "governance", "worker", "--kind", service.ERASURE_JOB],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for _ in range(args.workers)
        ]
        ready_at = None
        try:
            open_states = ("received", "verified", "in_progress")
            while True:
                with db.engine.connect() as conn:
                    left = conn.execute(
                        sa.select(sa.func.count())
                        .select_from(DataSubjectRequest)
                        .where(DataSubjectRequest.status.in_(open_states))
                    ).scalar_one()
                if left < count and ready_at is None:
                    ready_at = time.perf_counter()  # the first erasure finished: workers are up
                if left == 0:
                    break
                if time.perf_counter() - started > 1800:
                    raise SystemExit(f"timed out with {left} open")
                time.sleep(0.05)
            finished = time.perf_counter()
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(30)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(DataSubjectRequest.status, sa.func.count()).group_by(DataSubjectRequest.status)
            ).all()
            closed = {row[0]: row[1] for row in rows}
        total = finished - started
        steady = finished - (ready_at or started)
        print(
            json.dumps(
                {
                    "figure": "requests_erasure_drain",
                    "backend": url.split(":", 1)[0],
                    "erasures": count,
                    "workers": args.workers,
                    "seconds_including_worker_start": round(total, 2),
                    "rate_per_s": round(count / total, 1),
                    "rate_per_s_after_first": round((count - 1) / steady, 1) if steady > 0 else None,
                    "outcomes": closed,
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "cpus": os.cpu_count(),
                }
            )
        )


if __name__ == "__main__":
    main()
