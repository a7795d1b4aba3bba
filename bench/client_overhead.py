"""Overhead of the Python client library (clients/python) per consent check, against raw HTTP.

The same `GET /api/v1/consents/check` is sent, one call after the other, to gunicorn (1 worker with 2 threads:
the gthread worker keeps connections alive, so the figure is not mostly TCP set-up; the server side is the same
for every variant) by three callers in this process, each with a keep-alive connection and a token fetched once:
- `httpx`: a bare `httpx.Client` with the Authorization header, reading `allowed` from the JSON;
- `requests`: the same with a `requests.Session`;
- `client`: `GovernanceClient.consents.check` (generated operation, token source, retry transport, attrs model,
  `Permission`).
The variants alternate in rounds (so load changes on the shared machine hit all of them alike); the figures are
the median per-call wall time and the client process's CPU time per call, and their ratios to raw httpx (the
library's own transport) and to requests.

    python bench/client_overhead.py [--calls 2000] [--rounds 6] [--subjects 1000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "clients" / "python"))

SEED = 1717
RATE_LIMIT = "10000000/minute"


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds, order rotated each round (default 6)")
    parser.add_argument("--subjects", type=int, default=1000, help="subjects with a consent state (default 1000)")
    parser.add_argument("--quick", action="store_true", help="200 calls x 3 rounds, 200 subjects")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds, args.subjects = 200, 3, 200
    return args


def _setup(instance: Path, subjects: int) -> tuple[dict[str, str], list[str], str, str]:
    """Migrate a SQLite database, create subjects with a granted consent, register an OAuth client."""
    from _http import bench_env, flask_cli

    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.consent import service as consent
    from governance.db import transaction
    from governance.vault import service as vault

    env = bench_env(instance, None, RATELIMIT_DEFAULT=RATE_LIMIT)
    flask_cli(env, "init")
    app = create_app({"ENV": "development", "INSTANCE_PATH": str(instance), "LOG_LEVEL": "ERROR"})
    actor = Principal.system("bench")
    rng = random.Random(SEED)
    ids: list[str] = []
    with app.app_context():
        session = app.extensions["governance.db"].session()
        for n in range(subjects):
            with transaction(session):
                view = vault.create_subject(session, external_ref=f"bench-{n}", actor=actor)
                if rng.random() < 0.8:
                    consent.record_decisions(
                        session,
                        view.id,
                        [{"purpose": "personalized_recommendations", "decision": "granted"}],
                        method="api",
                        actor=actor,
                        jurisdiction="EU",
                    )
            ids.append(str(view.id))
        with session.begin():
            registered = tokens.register_client(
                session, name="bench", scopes={"consents:read"}, purposes=set(), actor=actor
            )
        session.close()
    app.extensions["governance.db"].dispose()
    return env, ids, registered.client_id, registered.client_secret


def _raw_token(base: str, client_id: str, secret: str) -> str:
    import httpx

    answer = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    answer.raise_for_status()
    return answer.json()["access_token"]


def _timed(call, subjects: list[str]) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    wall: list[float] = []
    cpu_start = time.process_time()
    for subject in subjects:
        started = time.perf_counter()
        allowed = call(subject)
        wall.append(time.perf_counter() - started)
        assert isinstance(allowed, bool)
    return wall, time.process_time() - cpu_start


def main() -> None:
    args = _parse()
    import httpx
    import requests
    from _http import gunicorn, temporary_instance

    from governance_client import GovernanceClient

    purpose = "personalized_recommendations"
    with temporary_instance() as instance:
        env, ids, client_id, secret = _setup(instance, args.subjects)
        with gunicorn(env, workers=1, threads=2) as port:
            base = f"http://127.0.0.1:{port}"
            token = _raw_token(base, client_id, secret)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            raw_httpx = httpx.Client(base_url=base, headers=headers, timeout=30)
            raw_requests = requests.Session()
            raw_requests.headers.update(headers)
            library = GovernanceClient(base, client_id, secret, scopes=["consents:read"])
            path = "/api/v1/consents/check"

            def via_httpx(subject: str) -> bool:
                response = raw_httpx.get(path, params={"subject": subject, "purpose": purpose})
                response.raise_for_status()
                return response.json()["allowed"]

            def via_requests(subject: str) -> bool:
                response = raw_requests.get(base + path, params={"subject": subject, "purpose": purpose}, timeout=30)
                response.raise_for_status()
                return response.json()["allowed"]

            def via_client(subject: str) -> bool:
                return library.consents.check(subject, purpose).allowed

            variants = {"httpx": via_httpx, "requests": via_requests, "client": via_client}
            rng = random.Random(SEED)
            warm = [rng.choice(ids) for _ in range(100)]
            for call in variants.values():
                _timed(call, warm)
            wall: dict[str, list[float]] = {name: [] for name in variants}
            cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
            names = list(variants)
            for round_index in range(args.rounds):
                subjects = [rng.choice(ids) for _ in range(args.calls)]
                order = names[round_index % len(names) :] + names[: round_index % len(names)]  # no order effect
                for name in order:
                    call = variants[name]
                    times, spent = _timed(call, subjects)
                    wall[name] += times
                    cpu[name] += spent
            raw_httpx.close()
            raw_requests.close()
            library.close()
    calls = args.calls * args.rounds
    per_call = {
        name: {
            "wall_p50_us": round(statistics.median(wall[name]) * 1e6, 1),
            "wall_mean_us": round(statistics.fmean(wall[name]) * 1e6, 1),
            "client_cpu_per_call_us": round(cpu[name] / calls * 1e6, 1),
        }
        for name in variants
    }
    client, raw = per_call["client"], per_call["httpx"]
    print(
        json.dumps(
            {
                "figure": "client_overhead",
                "operation": "GET /api/v1/consents/check (one call at a time, keep-alive)",
                "variant_order": "rotated each round",
                "server": "gunicorn --workers 1 --threads 2 (gthread, keep-alive), SQLite",
                "calls_per_variant": calls,
                "rounds": args.rounds,
                "subjects": args.subjects,
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "per_call": per_call,
                "ratio_client_to_httpx_wall_p50": round(client["wall_p50_us"] / raw["wall_p50_us"], 3),
                "ratio_client_to_requests_wall_p50": round(
                    client["wall_p50_us"] / per_call["requests"]["wall_p50_us"], 3
                ),
                "ratio_client_to_httpx_cpu": round(client["client_cpu_per_call_us"] / raw["client_cpu_per_call_us"], 3),
                "client_cpu_overhead_per_call_us": round(
                    client["client_cpu_per_call_us"] - raw["client_cpu_per_call_us"], 1
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
