"""`GET /api/v1/consents/check` under gunicorn (2 workers) at a fixed offered load of 500 requests per second
(target p99 under 5 ms), as a ratio to `/healthz` at the same load in the same run.

    python bench/consent_http_check.py [--rate 500] [--seconds 10] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http import bench_env, flask_cli, gunicorn, temporary_instance
from consent_common import PURPOSE, SEED, seed_states

CLIENTS = 4


def _paced(args: tuple[int, list[str], dict[str, str], float, float, mp.Queue]) -> None:
    port, paths, headers, interval, start_at, queue = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors = [], 0
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
        latencies.append(time.perf_counter() - sent)
        errors += response.status != 200
    queue.put((latencies, errors, time.perf_counter() - begin))


def drive_paced(port: int, paths: list[str], headers: dict[str, str], rate: float) -> dict[str, float]:
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
    latencies = sorted(x for r in results for x in r[0])
    return {
        "requests": len(latencies),
        "errors": sum(r[1] for r in results),
        "achieved_rps": round(len(latencies) / max(r[2] for r in results), 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.subjects = 2, 1_000
    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal

    with temporary_instance() as instance:
        url = args.postgres
        created = None
        if url:
            from tests.conftest import create_postgres_database

            created = url = create_postgres_database(url, prefix="consent_http_bench")
        env = bench_env(instance, url)
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
        with gunicorn(env, workers=2) as port:
            drive_paced(port, paths[:200], headers, args.rate)  # warm-up
            check = drive_paced(port, paths, headers, args.rate)
            health = drive_paced(port, ["/healthz"] * total, {}, args.rate)
        if created:
            from tests.conftest import drop_postgres_database

            drop_postgres_database(created)
    print(
        json.dumps(
            {
                "figure": "consent_http_check",
                "server": "gunicorn --workers 2 (sync)",
                "database": "postgresql" if args.postgres else "sqlite",
                "offered_rps": args.rate,
                "seconds": args.seconds,
                "client_processes": CLIENTS,
                "seed": SEED,
                "check": check,
                "healthz_same_load": health,
                "ratio_p99_to_healthz": round(check["p99_ms"] / health["p99_ms"], 2),
                "target_p99_ms": 5,
            }
        )
    )


if __name__ == "__main__":
    main()
