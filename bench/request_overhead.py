"""Per-request cost in-process (Flask test client, SQLite): Python function calls (cProfile's count, which does not
depend on the machine's speed or load) and CPU time per request for `/healthz`, a consent check (bearer token, one
read) and a consent write (2 purposes, a fresh Idempotency-Key), with the rate limiter on as in production.

    python bench/request_overhead.py [--requests 300] [--rounds 6] [--root PATH]

Sizes: 200 subjects; calls counted over `--requests` requests of each kind after a warm-up; CPU timed over
`--rounds` interleaved rounds of `--requests` each (healthz, check, write), fastest and median round reported.
`--root` measures another checkout of the repository (e.g. a `git worktree` of an earlier commit) with this
script, so that "before" and "after" come from the same harness on the same machine.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SEED = 20261207
SUBJECTS = 200
PURPOSES = ("marketing_email", "personalized_recommendations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind per count and round")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved timing rounds (default 6)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="checkout to measure")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    kinds = _requests(args.requests)
    for kind in kinds.values():  # warm-up: statement caches, the signing key, the catalogue
        kind(30)
    calls = {name: _calls_per_request(kind, args.requests) for name, kind in kinds.items()}
    cpu: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, kind in kinds.items():
            began = time.process_time()
            kind(args.requests)
            cpu[name].append((time.process_time() - began) / args.requests * 1000)
    fastest = {name: min(values) for name, values in cpu.items()}
    print(
        json.dumps(
            {
                "figure": "request_overhead",
                "root": str(root),
                "database": "sqlite",
                "sizes": {"subjects": SUBJECTS, "requests": args.requests, "rounds": args.rounds},
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "python_calls_per_request": {name: round(value, 1) for name, value in calls.items()},
                "cpu_ms_fastest_round": {name: round(value, 3) for name, value in fastest.items()},
                "cpu_ms_median_round": {name: round(statistics.median(v), 3) for name, v in cpu.items()},
                "ratio_to_healthz_fastest": {
                    name: round(value / fastest["healthz"], 2) for name, value in fastest.items() if name != "healthz"
                },
            }
        )
    )


def _requests(count: int) -> dict[str, Callable[[int], None]]:
    """The three kinds of request, each a function making `n` of them against one app."""
    from governance import create_app
    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.migrations_support import upgrade
    from governance.vault import service as vault

    rng = random.Random(SEED)
    instance = tempfile.mkdtemp(prefix="request-overhead-")
    atexit.register(shutil.rmtree, instance, ignore_errors=True)  # the database and keys go with the process
    url = f"sqlite:///{instance}/bench.sqlite3"
    upgrade(url)
    settings = {"ENV": "test", "INSTANCE_PATH": instance, "DATABASE_URL": url, "LOG_LEVEL": "ERROR"}
    app = create_app({**settings, "RATELIMIT_DEFAULT": "10000000/minute"})  # counted, never refused
    db = app.extensions["governance.db"]
    actor = Principal.system("bench")
    scopes = {"consents:read", "consents:write"}
    with app.app_context():
        session = db.session()
        with session.begin():
            registered = tokens.register_client(session, name="bench", scopes=scopes, purposes=set(), actor=actor)
            token = tokens.issue_token(session, tokens.get_client(session, registered.client_id), scopes).access_token
            subjects = [vault.create_subject(session, external_ref=f"r{i}", actor=actor).id for i in range(SUBJECTS)]
        session.close()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    checks = [f"/api/v1/consents/check?subject={rng.choice(subjects)}&purpose={PURPOSES[0]}" for _ in range(count)]
    decisions = zip(PURPOSES, ("granted", "withdrawn"), strict=True)
    body = {"decisions": [{"purpose": purpose, "decision": decision} for purpose, decision in decisions]}

    def healthz(n: int) -> None:
        _expect(client.get("/healthz").status_code for _ in range(n))

    def check(n: int) -> None:
        _expect(client.get(checks[i % len(checks)], headers=bearer).status_code for i in range(n))

    def write(n: int) -> None:
        _expect(
            client.post(
                f"/api/v1/subjects/{rng.choice(subjects)}/consents",
                json=body,
                headers={**bearer, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code
            for _ in range(n)
        )

    return {"healthz": healthz, "check": check, "write": write}


def _expect(statuses: Iterable[int]) -> None:
    unexpected = [status for status in statuses if status not in (200, 201)]
    if unexpected:
        raise SystemExit(f"unexpected statuses: {sorted(set(unexpected))}")


def _calls_per_request(kind: Callable[[int], Any], count: int) -> float:
    profile = cProfile.Profile()
    profile.enable()
    kind(count)
    profile.disable()
    return pstats.Stats(profile).total_calls / count  # type: ignore[attr-defined,no-any-return]  # not in the stubs


if __name__ == "__main__":
    main()
