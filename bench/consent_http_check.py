"""`GET /api/v1/consents/check` under gunicorn (2 workers, `--model`: gthread:4 as gunicorn.conf.py sets for
production, or sync as the earlier figures were taken), with the shared harness (`bench/_http.py`).

Two measurements, each next to the foundation's ceiling endpoints measured in the same run:
1. capacity: closed-loop keep-alive clients (`_http.drive`, as `bench/foundation_http.py` does) on `/healthz`,
   `/readyz` (the ceiling's JSON endpoint that reads the database) and the check; ratio of requests/s;
2. paced: an offered load of `--rate` requests/s (default 500; target p99 under 5 ms) spread over client processes
   on a fixed schedule; latency is reported both from the moment each request was sent (service time) and from
   the moment it was due (what a caller waits when the server falls behind), with every status code counted.

The rate limiter is set out of the way through its environment variables (GOVERNANCE_RATELIMIT_DEFAULT) so that
the figure measures the check, not 429 answers; the limiter itself still runs on every request.

    python bench/consent_http_check.py [--rate 500] [--seconds 10] [--subjects 20000] [--postgres URL] [--quick]
        [--model gthread:4]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http import bench_env, drive, flask_cli, temporary_instance
from consent_common import PURPOSE, SEED, seed_states
from intake_http import gunicorn, parse_model

CLIENTS = 4
RATE_LIMIT = "10000000/minute"


def _paced(args: tuple[int, list[str], dict[str, str], float, float, mp.Queue]) -> None:
    port, paths, headers, interval, start_at, queue = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    service, waited, statuses = [], [], collections.Counter()
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.perf_counter()
    for index, path in enumerate(paths):
        due = begin + index * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        done = time.perf_counter()
        service.append(done - sent)
        waited.append(done - due)
        statuses[response.status] += 1
    queue.put((service, waited, dict(statuses), time.perf_counter() - begin))


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000, 3),
    }


def drive_paced(port: int, paths: list[str], headers: dict[str, str], rate: float) -> dict[str, object]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    interval = CLIENTS / rate
    start_at = time.time() + 1.5
    procs = [
        ctx.Process(target=_paced, args=((port, paths[i::CLIENTS], headers, interval, start_at, queue),))
        for i in range(CLIENTS)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    statuses: collections.Counter[int] = collections.Counter()
    for r in results:
        statuses.update(r[2])
    requests = sum(len(r[0]) for r in results)
    return {
        "offered_rps": rate,
        "requests": requests,
        "achieved_rps": round(requests / max(r[3] for r in results), 1),
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "service_time": _percentiles([x for r in results for x in r[0]]),
        "from_schedule": _percentiles([x for r in results for x in r[1]]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=4000, help="closed-loop requests per endpoint")
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="gthread:4", help="gunicorn worker model: sync | gthread:N")
    args = parser.parse_args()
    parse_model(args.model)  # refuse an unknown model before any work
    if args.quick:
        args.seconds, args.subjects, args.requests = 2, 1_000, 400
    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal

    with temporary_instance() as instance:
        url = args.postgres
        created = None
        if url:
            from tests.conftest import create_postgres_database

            created = url = create_postgres_database(url, prefix="consent_http_bench")
        env = bench_env(instance, url, RATELIMIT_DEFAULT=RATE_LIMIT)
        flask_cli(env, "init")
        app = create_app({"ENV": "development", "INSTANCE_PATH": str(instance), "LOG_LEVEL": "ERROR",
                          **({"DATABASE_URL": url} if url else {})})  # fmt: skip
        ids = seed_states(app, args.subjects)
        with app.app_context():
            session = app.extensions["governance.db"].session()
            with session.begin():
                registered = tokens.register_client(
                    session, name="bench", scopes={"consents:read"}, purposes=set(), actor=Principal.system("bench")
                )
                issued = tokens.issue_token(
                    session, tokens.get_client(session, registered.client_id), {"consents:read"}
                )
            session.close()
        app.extensions["governance.db"].dispose()
        headers = {"Authorization": f"Bearer {issued.access_token}"}
        rng = random.Random(SEED)
        total = int(args.rate * args.seconds)
        paths = [f"/api/v1/consents/check?subject={rng.choice(ids)}&purpose={PURPOSE}" for _ in range(total)]
        one_check = paths[0]
        with gunicorn(env, args.model) as (port, _master):
            drive(port, "/healthz", requests=200, concurrency=2)  # warm-up
            drive(port, one_check, requests=200, concurrency=2, headers=headers)
            capacity = {
                "healthz": drive(port, "/healthz", requests=args.requests, concurrency=CLIENTS),
                "readyz_json_db": drive(port, "/readyz", requests=args.requests, concurrency=CLIENTS),
                "check": drive(port, one_check, requests=args.requests, concurrency=CLIENTS, headers=headers),
            }
            paced = {
                "check": drive_paced(port, paths, headers, args.rate),
                "healthz": drive_paced(port, ["/healthz"] * total, {}, args.rate),
            }
        if created:
            from tests.conftest import drop_postgres_database

            drop_postgres_database(created)
    check_cap, health_cap, ready_cap = capacity["check"], capacity["healthz"], capacity["readyz_json_db"]
    print(
        json.dumps(
            {
                "figure": "consent_http_check",
                "server": f"gunicorn --workers 2 ({args.model})",
                "database": "postgresql" if args.postgres else "sqlite",
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "client_processes": CLIENTS,
                "seed": SEED,
                "rate_limit": RATE_LIMIT,
                "capacity_closed_loop": capacity,
                "ratio_check_rps_to_healthz": round(check_cap["rps"] / health_cap["rps"], 3),
                "ratio_check_rps_to_readyz": round(check_cap["rps"] / ready_cap["rps"], 3),
                "paced": paced,
                "ratio_paced_p99_to_healthz": round(
                    paced["check"]["service_time"]["p99_ms"] / paced["healthz"]["service_time"]["p99_ms"], 2
                ),
                "target": "p99 < 5 ms at 500 requests/s",
            }
        )
    )


if __name__ == "__main__":
    main()
