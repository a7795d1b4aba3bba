"""Writes over HTTP under gunicorn: consent decisions (2 purposes per request, a fresh Idempotency-Key each) and
data subject request creation (an export request, stored only), next to `/healthz` in the same run, on a quiet
machine and on a contended one (CPU burner processes on every core), for one or more worker models.

Each row reports requests/s, p50/p99 latency, every status code, the server's CPU milliseconds per request (all
gunicorn processes, read from /proc), the worker processes' RSS, and the load average while it ran.
The load generator is `bench/_load.py`, the same one `bench/peer_fides.py` drives the peer with.

    python bench/intake_http.py [--postgres URL] [--requests 4000] [--clients 8] [--subjects 2000]
        [--models sync,gthread:4] [--burners 4] [--runs 1] [--quick]

Sizes: 2,000 subjects, 4,000 requests per row from 8 client processes, worker models "sync" (2 workers) and
"gthread:4" (2 workers x 4 threads); contended rows run 4 busy-loop processes. --quick: 200 subjects, 400
requests, one model. Needs PostgreSQL (the default URL is the test server's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http import BIN, ROOT, bench_env, flask_cli, free_port, fresh_database, temporary_instance
from _load import Req, cpu_burner, load_average, measure, own_cpu_seconds, process_tree, rss_mib

SEED = 20261202
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PURPOSES = ("marketing_email", "personalized_recommendations")


@dataclass
class Fixture:
    token: str
    subjects: list[uuid.UUID]


def prepare(env: dict[str, str], instance: Path, url: str, subjects: int) -> Fixture:
    """A client with the write scopes and `subjects` subjects, created through the services (in this process)."""
    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.vault import service as vault

    flask_cli(env, "init")
    app = create_app(
        # a token that outlives a long run on a busy machine (the default 15 minutes did not: 401s)
        {
            "ENV": "development",
            "INSTANCE_PATH": str(instance),
            "LOG_LEVEL": "ERROR",
            "DATABASE_URL": url,
            "ACCESS_TOKEN_SECONDS": "86400",
        }
    )
    actor = Principal.system("bench")
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            scopes = {"consents:write", "consents:read", "requests:write"}
            registered = tokens.register_client(session, name="bench", scopes=scopes, purposes=set(), actor=actor)
            client = tokens.get_client(session, registered.client_id)
            # a day: a long run on a busy machine outlived the default 15 minutes (401s in the last rows)
            token = tokens.issue_token(session, client, scopes, lifetime=dt.timedelta(days=1)).access_token
            ids = [vault.create_subject(session, external_ref=f"bench-{i}", actor=actor).id for i in range(subjects)]
        session.close()
    app.extensions["governance.db"].dispose()
    return Fixture(token, ids)


def consent_requests(fixture: Fixture, clients: int, total: int, rng: random.Random) -> list[list[Req]]:
    """Grants and withdrawals of 2 purposes, a new Idempotency-Key each, spread over the subjects."""
    per_client: list[list[Req]] = [[] for _ in range(clients)]
    for index in range(total):
        subject = rng.choice(fixture.subjects)
        decision = rng.choice(("granted", "withdrawn"))
        body = {"decisions": [{"purpose": p, "decision": decision} for p in PURPOSES], "jurisdiction": "EU"}
        headers = {
            "Authorization": f"Bearer {fixture.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.UUID(int=rng.getrandbits(128)).hex,
        }
        per_client[index % clients].append(
            Req("POST", f"/api/v1/subjects/{subject}/consents", headers, json.dumps(body).encode())
        )
    return per_client


def export_requests(fixture: Fixture, clients: int, total: int) -> list[list[Req]]:
    """One export (access) request per subject (a second one for the same subject would be merged)."""
    per_client: list[list[Req]] = [[] for _ in range(clients)]
    headers = {"Authorization": f"Bearer {fixture.token}", "Content-Type": "application/json"}
    for index, subject in enumerate(fixture.subjects[:total]):
        body = {"kind": "access", "subject_id": str(subject), "verification_method": "account_login"}
        per_client[index % clients].append(Req("POST", "/api/v1/requests", headers, json.dumps(body).encode()))
    return per_client


def healthz_requests(clients: int, total: int) -> list[list[Req]]:
    return [[Req("GET", "/healthz", {})] * (total // clients) for _ in range(clients)]


def parse_model(spec: str) -> tuple[str, int]:
    """ "sync" or "gthread:N" (N threads per worker)."""
    kind, _, threads = spec.partition(":")
    if kind not in ("sync", "gthread"):
        raise argparse.ArgumentTypeError(f"unknown worker model {spec!r}")
    return kind, int(threads or (1 if kind == "sync" else 4))


@contextmanager
def gunicorn(env: dict[str, str], model: str, *, workers: int = 2) -> Iterator[tuple[int, int]]:
    """gunicorn with the repository's gunicorn.conf.py and the given worker model; yields (port, master pid)."""
    import http.client

    kind, threads = parse_model(model)
    port = free_port()
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", kind, "--threads", str(threads)]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def worker_rss(master: int) -> list[float]:
    return [rss_mib(pid) for pid in process_tree(master) if pid != master]


def run_rows(env: dict[str, str], fixture: Fixture, args: argparse.Namespace, model: str, rng: random.Random) -> dict:
    """One worker model: healthz, consent writes and export requests, quiet then contended."""
    out: dict[str, object] = {"model": model}
    with gunicorn(env, model) as (port, master):
        warm = consent_requests(fixture, 2, 100, rng)
        measure("127.0.0.1", port, master, warm)
        out["worker_rss_mib_after_warmup"] = worker_rss(master)
        for condition, burners in (("quiet", 0), ("contended", args.burners)):
            with cpu_burner(burners):
                rows: dict[str, object] = {"load_average_before": load_average()}
                rows["healthz"] = measure("127.0.0.1", port, master, healthz_requests(args.clients, args.requests))
                rows["consent_write"] = measure(
                    "127.0.0.1", port, master, consent_requests(fixture, args.clients, args.requests, rng)
                )
                rows["load_average_after"] = load_average()
            out[condition] = rows
        out["worker_rss_mib_at_end"] = worker_rss(master)
    return out


def run_exports(env: dict[str, str], fixture: Fixture, args: argparse.Namespace, model: str) -> dict:
    """Export request creation, quiet and contended, each on its own half of the subjects (never merged)."""
    half = len(fixture.subjects) // 2
    out: dict[str, object] = {"model": model}
    with gunicorn(env, model) as (port, master):
        for condition, burners, share in (("quiet", 0, slice(0, half)), ("contended", args.burners, slice(half, None))):
            part = Fixture(fixture.token, fixture.subjects[share])
            with cpu_burner(burners):
                row = measure("127.0.0.1", port, master, export_requests(part, args.clients, args.requests // 2))
                row["load_average"] = load_average()
            out[condition] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a PostgreSQL server URL (a fresh database)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per row (default 4000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (default 8)")
    parser.add_argument("--subjects", type=int, default=2000, help="subjects (default 2000)")
    parser.add_argument("--models", default="sync,gthread:4", help="worker models, comma separated")
    parser.add_argument("--burners", type=int, default=4, help="busy-loop processes in contended rows (default 4)")
    parser.add_argument("--skip-exports", action="store_true", help="consent writes only")
    parser.add_argument("--quick", action="store_true", help="200 subjects, 400 requests, the first model only")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.quick:
        args.subjects, args.requests, models = 200, 400, models[:1]
    args.subjects = max(args.subjects, args.requests)  # one export request per subject
    started_cpu, rng = own_cpu_seconds(), random.Random(SEED)
    with temporary_instance() as instance, fresh_database(args.postgres, prefix="gov_bench_intake") as url:
        assert url is not None
        env = bench_env(instance, url, RATELIMIT_DEFAULT="10000000/minute")  # measure the writes, not 429s
        fixture = prepare(env, instance, url, args.subjects)
        results = [run_rows(env, fixture, args, model, rng) for model in models]
        exports = [] if args.skip_exports else [run_exports(env, fixture, args, model) for model in models]
    print(
        json.dumps(
            {
                "figure": "intake_http",
                "database": "postgresql",
                "workers": 2,
                "sizes": {
                    "subjects": args.subjects,
                    "requests_per_row": args.requests,
                    "clients": args.clients,
                    "purposes_per_write": len(PURPOSES),
                    "burners": args.burners,
                },
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average": load_average(),
                "bench_cpu_seconds": round(own_cpu_seconds() - started_cpu, 2),
                "consent_writes": results,
                "export_requests": exports,
            }
        )
    )


if __name__ == "__main__":
    main()
