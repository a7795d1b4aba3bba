"""Shared harness for HTTP benchmarks: a gunicorn server on 127.0.0.1 and a load generator in other processes."""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(instance: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update(
        GOVERNANCE_ENV="development",
        GOVERNANCE_INSTANCE_PATH=str(instance),
        GOVERNANCE_LOG_LEVEL="WARNING",
        **{f"GOVERNANCE_{k}": v for k, v in extra.items()},
    )
    if database_url:
        env["GOVERNANCE_DATABASE_URL"] = database_url
    return env


def flask_cli(env: Mapping[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "governance", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@contextmanager
def fresh_database(server_url: str | None, *, prefix: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database on `server_url`'s server, dropped afterwards; None (SQLite) without a URL."""
    if not server_url:
        yield None
        return
    import uuid

    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def temporary_instance() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gov-bench-") as tmp:
        yield Path(tmp)


@contextmanager
def gunicorn(env: Mapping[str, str], *, workers: int = 2, threads: int = 1) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--worker-class",  # these figures were taken with sync workers (gunicorn.conf.py now says gthread)
            "sync",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=dict(env),
    )
    try:
        deadline = time.monotonic() + 60
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
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _client(args: tuple[int, str, str, dict[str, str], int, bytes | None, mp.Queue]) -> None:
    port, method, path, headers, count, body, queue = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    errors = 0
    begun = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status >= 400:
            errors += 1
    queue.put((latencies, errors, begun, time.perf_counter()))


def drive(
    port: int,
    path: str,
    *,
    requests: int = 4000,
    concurrency: int = 4,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, float]:
    """Send `requests` requests from `concurrency` keep-alive clients in separate processes."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    per_client = requests // concurrency
    procs = [
        ctx.Process(target=_client, args=((port, method, path, headers or {}, per_client, body, queue),))
        for _ in range(concurrency)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    # The measured window runs from the first request sent to the last answer (process start-up excluded).
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
    }
