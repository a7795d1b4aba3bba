"""Side by side with the peer, ethyca-fides 2.78.2, on this machine (not part of the test suite).

Installs Fides in its own virtual environment (`--venv`, created with `--install`), gives it its own database
on the same PostgreSQL cluster (and Redis at 127.0.0.1:6379, which it requires), starts `fides webserver`, and
starts this service under gunicorn (2 workers, `--model`). Then the same load generator (`bench/_load.py`: 8
keep-alive client processes) drives both, in alternating runs, quiet and contended (CPU burners on every core):

- consent write: ours `POST /api/v1/subjects/{id}/consents` with 2 purposes (Idempotency-Key, bearer token);
  Fides `PATCH /api/v1/consent-request/{id}/preferences` with 2 entries (identity verification off; the
  consent requests are created before the measured run, one per subject);
- DSR creation: ours `POST /api/v1/requests` (an export request); Fides `POST /api/v1/privacy-request` with
  the default access policy and manual approval on (stored only, nothing executed).

Each row: requests/s, p50/p99, status codes, server CPU ms per request (every process of each server, /proc),
load average; then the ratio ours/Fides of each pair measured in the same round.

    python bench/peer_fides.py [--install] [--venv /work/peer-fides-venv] [--requests 2000] [--subjects 2000]
        [--clients 8] [--rounds 2] [--burners 4] [--model gthread:4] [--postgres URL]

Sizes: 2,000 requests per row, 2,000 subjects on each side, 8 clients, 2 alternating rounds, 4 burners.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http import bench_env, free_port, fresh_database, temporary_instance
from _load import Req, cpu_burner, load_average, measure, own_cpu_seconds, process_tree, rss_mib
from intake_http import DEFAULT_POSTGRES, SEED, consent_requests, export_requests, gunicorn, prepare

FIDES_VERSION = "2.78.2"
DATA_USES = ("marketing.advertising", "functional.service.improve")


def install(venv: Path) -> None:
    """A virtual environment of its own for the peer (it pins SQLAlchemy 1.4, FastAPI...: never in ours)."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"ethyca-fides=={FIDES_VERSION}"], check=True)


def fides_env(url: str, redis_db: int) -> dict[str, str]:
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIDES__", "GOVERNANCE_"))}
    env.update(
        {
            "FIDES__DATABASE__SERVER": parsed.host or "127.0.0.1",
            "FIDES__DATABASE__PORT": str(parsed.port or 5432),
            "FIDES__DATABASE__USER": parsed.username or "postgres",
            "FIDES__DATABASE__PASSWORD": parsed.password or "postgres",
            "FIDES__DATABASE__DB": parsed.database or "fides",
            "FIDES__REDIS__HOST": "127.0.0.1",
            "FIDES__REDIS__PORT": "6379",
            "FIDES__REDIS__PASSWORD": "",
            "FIDES__REDIS__DB_INDEX": str(redis_db),
            "FIDES__REDIS__SSL": "false",
            "FIDES__SECURITY__APP_ENCRYPTION_KEY": "peerbenchpeerbenchpeerbenchpeerb",  # 32 chars, a local bench
            "FIDES__SECURITY__OAUTH_ROOT_CLIENT_ID": "peerbench",
            "FIDES__SECURITY__OAUTH_ROOT_CLIENT_SECRET": uuid.uuid4().hex,
            "FIDES__SECURITY__ENV": "dev",
            "FIDES__EXECUTION__SUBJECT_IDENTITY_VERIFICATION_REQUIRED": "false",
            "FIDES__EXECUTION__REQUIRE_MANUAL_REQUEST_APPROVAL": "true",
            "FIDES__CELERY__TASK_ALWAYS_EAGER": "true",
            "FIDES__LOGGING__LEVEL": "WARNING",
            "FIDES__USER__ANALYTICS_OPT_OUT": "true",
        }
    )
    return env


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status
    except OSError:
        return 0


def _post(url: str, method: str, body: object) -> dict:
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1 only)
        url, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


@contextmanager
def fides_server(venv: Path, env: dict[str, str], workdir: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    log = (workdir / "fides.log").open("w")
    proc = subprocess.Popen(
        [str(venv / "bin" / "fides"), "webserver", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 600  # migrations and start-up take minutes on a busy machine
        while _get(f"http://127.0.0.1:{port}/health") != 200:
            if proc.poll() is not None:
                raise RuntimeError(f"fides webserver exited; see {workdir / 'fides.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("fides webserver did not start within 600 s")
            time.sleep(1)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def fides_consent_ids(port: int, subjects: int) -> list[tuple[str, str]]:
    """One consent request per subject (made before the measured runs): (consent_request_id, email)."""
    emails = [f"peer-{i}@example.com" for i in range(subjects)]

    def create(email: str) -> tuple[str, str]:
        answer = _post(f"http://127.0.0.1:{port}/api/v1/consent-request", "POST", {"identity": {"email": email}})
        return answer["consent_request_id"], email

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, emails))


def fides_consent_requests(ids: list[tuple[str, str]], clients: int, total: int, rng: random.Random) -> list:
    per_client: list[list[Req]] = [[] for _ in range(clients)]
    headers = {"Content-Type": "application/json"}
    for index in range(total):
        request_id, email = rng.choice(ids)
        opt_in = rng.choice((True, False))
        body = {"identity": {"email": email}, "consent": [{"data_use": u, "opt_in": opt_in} for u in DATA_USES]}
        per_client[index % clients].append(
            Req("PATCH", f"/api/v1/consent-request/{request_id}/preferences", headers, json.dumps(body).encode())
        )
    return per_client


def fides_privacy_requests(offset: int, clients: int, total: int) -> list:
    per_client: list[list[Req]] = [[] for _ in range(clients)]
    headers = {"Content-Type": "application/json"}
    for index in range(total):
        body = [{"identity": {"email": f"dsr-{offset + index}@example.com"}, "policy_key": "default_access_policy"}]
        per_client[index % clients].append(Req("POST", "/api/v1/privacy-request", headers, json.dumps(body).encode()))
    return per_client


def ratio(ours: dict, theirs: dict) -> float:
    return round(float(ours["rps"]) / max(float(theirs["rps"]), 1e-9), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install", action="store_true", help=f"create the venv and pip install fides {FIDES_VERSION}")
    parser.add_argument("--venv", type=Path, default=Path("/work/peer-fides-venv"), help="the peer's venv")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="the PostgreSQL cluster both use")
    parser.add_argument("--requests", type=int, default=2000, help="requests per row (default 2000)")
    parser.add_argument("--subjects", type=int, default=2000, help="subjects on each side (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--burners", type=int, default=4, help="busy loops in contended rows (default 4)")
    parser.add_argument("--model", default="gthread:4", help="our gunicorn worker model (sync | gthread:N)")
    args = parser.parse_args()
    if args.install:
        install(args.venv)
    if not (args.venv / "bin" / "fides").exists():
        raise SystemExit(f"no fides in {args.venv}: run with --install")
    exports_needed = args.requests * args.rounds * 2
    started_cpu, rng = own_cpu_seconds(), random.Random(SEED)
    rounds: list[dict] = []
    with (
        temporary_instance() as instance,
        fresh_database(args.postgres, prefix="gov_bench_peer") as ours_url,
        fresh_database(args.postgres, prefix="fides_bench_peer") as fides_url,
    ):
        assert ours_url is not None
        assert fides_url is not None
        env = bench_env(instance, ours_url, RATELIMIT_DEFAULT="10000000/minute")
        fixture = prepare(env, instance, ours_url, max(args.subjects, exports_needed))
        with (
            fides_server(args.venv, fides_env(fides_url, 7), instance) as (fport, fpid),
            gunicorn(env, args.model) as (oport, opid),
        ):
            ids = fides_consent_ids(fport, args.subjects)
            measure("127.0.0.1", fport, fpid, fides_consent_requests(ids, 2, 100, rng))  # warm-up, both
            measure("127.0.0.1", oport, opid, consent_requests(fixture, 2, 100, rng))
            exported = 0
            for round_ in range(args.rounds):
                for condition, burners in (("quiet", 0), ("contended", args.burners)):
                    with cpu_burner(burners):
                        row: dict[str, object] = {"round": round_, "condition": condition}
                        row["load_average_before"] = load_average()
                        ours_w = measure(
                            "127.0.0.1", oport, opid, consent_requests(fixture, args.clients, args.requests, rng)
                        )
                        fides_w = measure(
                            "127.0.0.1", fport, fpid, fides_consent_requests(ids, args.clients, args.requests, rng)
                        )
                        share = fixture.__class__(fixture.token, fixture.subjects[exported : exported + args.requests])
                        ours_d = measure("127.0.0.1", oport, opid, export_requests(share, args.clients, args.requests))
                        fides_d = measure(
                            "127.0.0.1", fport, fpid, fides_privacy_requests(exported, args.clients, args.requests)
                        )
                        exported += args.requests
                        row["load_average_after"] = load_average()
                        row.update(
                            ours_consent_write=ours_w,
                            fides_consent_write=fides_w,
                            ours_dsr_create=ours_d,
                            fides_dsr_create=fides_d,
                            ratio_consent_write=ratio(ours_w, fides_w),
                            ratio_dsr_create=ratio(ours_d, fides_d),
                        )
                    rounds.append(row)
            rss = {
                "ours_workers_mib": [rss_mib(p) for p in process_tree(opid) if p != opid],
                "fides_processes_mib": [rss_mib(p) for p in process_tree(fpid)],
            }
    print(
        json.dumps(
            {
                "figure": "peer_fides",
                "peer": f"ethyca-fides {FIDES_VERSION} (fides webserver, its own venv and database)",
                "ours": f"gunicorn 2 workers, {args.model}",
                "sizes": {
                    "requests_per_row": args.requests,
                    "subjects": args.subjects,
                    "clients": args.clients,
                    "rounds": args.rounds,
                    "burners": args.burners,
                },
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average": load_average(),
                "bench_cpu_seconds": round(own_cpu_seconds() - started_cpu, 2),
                "rounds": rounds,
                "rss_at_end": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
