"""Filing export requests in-process (Flask test client, SQLite file, bearer token): SQL statements per
`POST /api/v1/requests` (BEGIN and COMMIT included) and CPU per request as a ratio to `/healthz` in the same
process (issue 16: a filed request's audit entries go in one INSERT, `audit.deferred`).

    python bench/requests_filing_inprocess.py [--requests 500]

Sizes: 500 verified access requests, one per subject (a second one would be merged), 500 `/healthz` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20261203  # nothing random is drawn; kept for the shape of every bench's output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests filed (default 500)")
    args = parser.parse_args()

    from bench._statements import StatementCounter
    from bench.requests_common import bench_app
    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.vault import service as vault

    with bench_app(RATELIMIT_DEFAULT="10000000/minute") as (app, _url, _instance):
        db = app.extensions["governance.db"]
        actor = Principal.system("bench")
        with app.app_context():
            session = db.session()
            with session.begin():
                registered = tokens.register_client(
                    session, name="b", scopes={"requests:write"}, purposes=set(), actor=actor
                )
                client_row = tokens.get_client(session, registered.client_id)
                token = tokens.issue_token(session, client_row, {"requests:write"}).access_token
                subjects = [
                    vault.create_subject(session, external_ref=f"b{i}", actor=actor).id
                    for i in range(args.requests + 20)
                ]
            session.close()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def file(subject: object) -> int:
            body = {"kind": "access", "subject_id": str(subject), "verification_method": "account_login"}
            return client.post("/api/v1/requests", json=body, headers=headers).status_code

        for subject in subjects[:20]:  # warm-up: policy, statement caches
            file(subject)
        for _ in range(50):
            client.get("/healthz")
        started = time.process_time()
        for _ in range(args.requests):
            client.get("/healthz")
        healthz_cpu = (time.process_time() - started) / args.requests
        counter = StatementCounter(db.engine)
        statuses: dict[int, int] = {}
        started = time.process_time()
        for subject in subjects[20:]:
            code = file(subject)
            statuses[code] = statuses.get(code, 0) + 1
        request_cpu = (time.process_time() - started) / args.requests
        counter.remove()
    print(json.dumps({
        "figure": "requests_filing_inprocess",
        "database": "sqlite",
        "sizes": {"requests": args.requests},
        "seed": SEED,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "statements_per_request": round(len(counter.statements) / args.requests, 2),
        "statements_by_kind_per_request": {k: round(v / args.requests, 2) for k, v in sorted(counter.kinds().items())},
        "request_cpu_ms": round(request_cpu * 1000, 3),
        "healthz_cpu_ms": round(healthz_cpu * 1000, 3),
        "ratio_request_cpu_to_healthz": round(request_cpu / healthz_cpu, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
