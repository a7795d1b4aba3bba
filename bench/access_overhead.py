"""Added latency of authentication plus authorization on a JSON endpoint.

The same small JSON view (one database read) is served twice by one app: once declared `@public` and
called without credentials (the baseline: routing, hooks, database, JSON), once declared
`@requires("dataset.read", ...)` and called with a bearer token (token lookup + Cedar decision). Requests
alternate between the two so both see the same machine load, each for a different item id. `cached` is the
engine as the service runs it; `uncached` switches its decision cache off (every decision by Cedar).

Run from the repository root: `python -m bench.access_overhead [--quick] [--database-url URL]`.
Prints one JSON object. Target: added cost under 0.5 ms per request.
Sizes: 3,000 requests per variant (--quick: 300), seed 20261128.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import jsonify

SEED = 20261128


def build_app(database_url: str, instance: Path) -> Any:
    from governance import create_app
    from governance.access.decorators import public, requires
    from governance.access.principals import Resource

    app = create_app(
        {"ENV": "test", "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "LOG_LEVEL": "ERROR"}
    )

    def payload() -> Any:
        # A typical JSON endpoint reads the database; both variants do the same read.
        from governance.db import get_session

        value = get_session().execute(sa.text("SELECT 1")).scalar()
        return jsonify({"ok": True, "items": [value, 2, 3]})

    @public("benchmark baseline without authentication")
    def open_view(item: str) -> Any:
        return payload()

    def dataset(args: dict[str, Any]) -> Resource:
        return Resource(type="Dataset", id=args["item"], purpose="recommendations", owner_client_id="bench-client")

    @requires("dataset.read", resource=dataset)
    def protected_view(item: str) -> Any:
        return payload()

    app.add_url_rule("/bench/open/<item>", "bench_open", open_view)
    app.add_url_rule("/bench/protected/<item>", "bench_protected", protected_view)
    return app


def issue_token(app: Any) -> str:
    from governance.access import tokens
    from governance.access.principals import Principal

    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            tokens.register_client(
                session,
                name="bench",
                scopes={"datasets:request"},
                purposes={"recommendations"},
                actor=Principal.system("bench"),
                client_id="bench-client",
            )
            client = tokens.get_client(session, "bench-client")
            token = tokens.issue_token(session, client, {"datasets:request"}).access_token
        session.close()
    return token


def measure(app: Any, token: str, count: int, *, distinct: bool) -> dict[str, float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    baseline: list[float] = []
    protected: list[float] = []
    for n in range(count):
        item = f"d{n}" if distinct else "d0"
        start = time.perf_counter()
        response = client.get(f"/bench/open/{item}")
        baseline.append(time.perf_counter() - start)
        assert response.status_code == 200
        start = time.perf_counter()
        response = client.get(f"/bench/protected/{item}", headers=headers)
        protected.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    base_ms = statistics.median(baseline) * 1000
    prot_ms = statistics.median(protected) * 1000
    return {
        "baseline_median_ms": round(base_ms, 3),
        "protected_median_ms": round(prot_ms, 3),
        "added_ms": round(prot_ms - base_ms, 3),
        "ratio": round(prot_ms / base_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    count = 300 if args.quick else 3000
    from governance.migrations_support import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        app = build_app(url, Path(tmp) / "instance")
        token = issue_token(app)
        from governance.access.policy import PolicyEngine
        from governance.access.service import POLICY_ENGINE
        from governance.core.runtime import runtime_of

        measure(app, token, 50, distinct=True)  # warm-up
        cached = measure(app, token, count, distinct=True)
        policies_dir = app.extensions["governance.settings"].policies_dir
        runtime_of(app).provide(POLICY_ENGINE, PolicyEngine.from_directory(policies_dir, cache_size=0))
        uncached = measure(app, token, count, distinct=True)
        app.extensions["governance.db"].dispose()
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        json.dumps(
            {
                "figure": "access_overhead_per_request",
                "backend": backend,
                "requests_each": count,
                "cached_decision": cached,
                "uncached_decision": uncached,
                "target_added_ms": 0.5,
            }
        )
    )


if __name__ == "__main__":
    main()
