"""The ceiling other figures are compared with: /healthz and a real JSON endpoint under gunicorn (2 workers),
driven from separate client processes on 127.0.0.1.

    python bench/foundation_http.py [--requests 4000] [--concurrency 4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http import bench_env, drive, flask_cli, fresh_database, gunicorn, temporary_instance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests = 400
    with fresh_database(args.postgres, prefix="gov_bench_http") as database_url:
        print(json.dumps(_measure(args, database_url)))


def _measure(args: argparse.Namespace, database_url: str | None) -> dict[str, object]:
    with temporary_instance() as instance:
        env = bench_env(instance, database_url, RATELIMIT_DEFAULT="10000000/minute")  # measure, not throttle
        flask_cli(env, "init")
        with gunicorn(env, workers=2) as port:
            drive(port, "/healthz", requests=200, concurrency=2)  # warm-up
            health = drive(port, "/healthz", requests=args.requests, concurrency=args.concurrency)
            ready = drive(port, "/readyz", requests=args.requests, concurrency=args.concurrency)
    return {
        "figure": "foundation_http",
        "server": "gunicorn --workers 2 (sync)",
        "database": "postgresql" if database_url else "sqlite",
        "requests_per_endpoint": args.requests,
        "client_processes": args.concurrency,
        "healthz": health,
        "readyz_json_db": ready,
    }


if __name__ == "__main__":
    main()
