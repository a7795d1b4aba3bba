"""Audited state changes per second on PostgreSQL with 1, 8 and 32 concurrent writers, as a ratio to the same
state changes without an audit entry, with the sealer running concurrently as in production.

One state change is one transaction: ``UPDATE bench_audit_rows SET counter = counter + 1, ... WHERE id = ?`` on
a row of the writer's own (no lock waits between writers), plus, in the audited run, one
``governance.audit.record(...)`` in the same transaction. Writers are threads spread over several processes
(``--processes``, so that the client's GIL is not what is measured), each with its own app and engine. During
the audited run a separate process runs the sealer (``service.seal_all``) every ``--seal-seconds``, as the
periodic job ``audit.seal`` does; after the writers stop, the time until the last entry is sealed is measured
too (``sealed_per_second`` counts from the first write to the last entry sealed). Finally the whole log is
verified (no gaps, every entry sealed, roots match the signed checkpoints).

Because the machine may be shared, each run also reports the CPU one change costs (the writer processes, the
sealer process, and the PostgreSQL backends of the bench database read from /proc when the server is local) and
the rate that cost allows on the machine's cores (``cpu_bound_ceiling_per_second``).

    python bench/audit_throughput.py [--postgres URL] [--writers 1,8,32] [--changes N] [--quick]

Creates a fresh database next to ``--postgres`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
and drops it at the end. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROWS_PER_WRITER = 100
CHANGES = {1: 3_000, 8: 8_000, 32: 16_000}  # state changes per run, split over the writers
SEED_ROWS = "INSERT INTO bench_audit_rows (id, state) SELECT g, 'active' FROM generate_series(0, :n) g"
UPDATE_SQL = "UPDATE bench_audit_rows SET counter = counter + 1, updated_at = now(), state = :state WHERE id = :id"
STATES = ("active", "paused", "active", "review")


def _make_app(url: str, instance: str) -> Any:
    from governance import create_app

    return create_app({"ENV": "test", "INSTANCE_PATH": instance, "DATABASE_URL": url, "LOG_LEVEL": "ERROR"})


def _writer(app: Any, writer: int, changes: int, audited: bool, start_at: float, out: list[Any]) -> None:
    import sqlalchemy as sa

    from governance import audit
    from governance.access.principals import ActorRef

    db = app.extensions["governance.db"]
    update = sa.text(UPDATE_SQL)
    actor = ActorRef("client", f"bench-writer-{writer}")
    first_row = writer * ROWS_PER_WRITER
    try:
        with app.app_context():
            time.sleep(max(0.0, start_at - time.time()))
            started = time.time()
            for i in range(changes):
                row = first_row + i % ROWS_PER_WRITER
                state = STATES[i % len(STATES)]
                with db.session() as session:
                    session.execute(update, {"id": row, "state": state})
                    if audited:
                        audit.record(
                            session,
                            actor=actor,
                            action="bench.row.updated",
                            target=("bench_row", str(row)),
                            details={"state": state, "change": i},
                        )
                    session.commit()
            out.append((changes, started, time.time(), None))
    except Exception as exc:  # reported to the parent, which fails the run
        out.append((0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))


def _writer_process(url: str, instance: str, commands: Any, results: Any) -> None:
    """A process running writer threads on command; its app (and engine) lives as long as the process."""
    app = _make_app(url, instance)
    results.put("ready")
    while True:
        command = commands.get()
        if command is None:
            break
        first_writer, threads, changes, audited, start_at = command
        out: list[Any] = []
        cpu_before = _own_cpu()
        workers = [
            threading.Thread(target=_writer, args=(app, first_writer + t, changes, audited, start_at, out))
            for t in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        results.put((out, _own_cpu() - cpu_before))
    app.extensions["governance.db"].dispose()


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu(engine: Any) -> dict[int, float] | None:
    """CPU seconds used so far by each server process of the bench database (None unless the server is local
    and /proc is readable): the server's share of the cost, independent of what else the machine runs."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        out = {}
        try:
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None
    return out


def _unsealed(session: Any) -> int:
    import sqlalchemy as sa

    return session.scalar(sa.text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")) or 0


def _sealer_process(url: str, instance: str, period: float, stop: Any, ready: Any, results: Any) -> None:
    """The production sealer (`service.seal_all`) every `period` seconds until `stop`; after `stop` it keeps
    sealing until nothing is pending and reports when that was."""
    from governance.audit import service

    app = _make_app(url, instance)
    db = app.extensions["governance.db"]
    with app.app_context():
        config = service.current_config()
    ready.set()
    cpu_before = _own_cpu()
    runs, sealed, busy, biggest = 0, 0, 0.0, 0
    while True:
        stopping = stop.is_set()
        began = time.time()
        result = service.seal_all(db.session, config)
        took = time.time() - began
        runs, sealed, busy, biggest = runs + 1, sealed + result.sealed, busy + took, max(biggest, result.sealed)
        if stopping:
            with db.session() as session:
                if _unsealed(session) == 0:
                    break
            continue
        stop.wait(max(0.0, period - took))
    results.put(
        {
            "runs": runs,
            "sealed": sealed,
            "busy_seconds": busy,
            "largest_batch": biggest,
            "drained_at": time.time(),
            "cpu_seconds": _own_cpu() - cpu_before,
        }
    )
    db.dispose()


def _run_phase(
    commands: list[Any], results: Any, writers: int, changes: int, audited: bool
) -> tuple[int, float, float, float]:
    """Run one phase; returns (changes done, first start, last end, client CPU seconds)."""
    processes = min(len(commands), writers)
    per_process = [writers // processes + (1 if p < writers % processes else 0) for p in range(processes)]
    start_at = time.time() + 1.0
    first = 0
    for p, threads in enumerate(per_process):
        commands[p].put((first, threads, changes // writers, audited, start_at))
        first += threads
    replies = [results.get() for _ in range(processes)]
    outcomes = [item for out, _cpu in replies for item in out]
    errors = [err for *_, err in outcomes if err]
    if errors:
        raise RuntimeError(f"{len(errors)} writers failed, first: {errors[0]}")
    done = sum(n for n, *_ in outcomes)
    cpu = sum(c for _out, c in replies)
    return done, min(s for _, s, _, _ in outcomes), max(e for _, _, e, _ in outcomes), cpu


def _cpu_delta(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _per_change_ms(client: float, server: float | None, done: int) -> dict[str, float | None]:
    total = None if server is None else client + server
    return {
        "client": round(client / done * 1000, 3),
        "server": None if server is None else round(server / done * 1000, 3),
        "total": None if total is None else round(total / done * 1000, 3),
    }


def _ceiling(plain: dict[str, float | None], audited: dict[str, float | None]) -> dict[str, int | None]:
    """Changes per second the machine's cores could do if the client and the server had them to themselves."""
    cores = os.cpu_count() or 1
    return {
        name: (round(cores * 1000 / cost["total"]) if cost["total"] else None)
        for name, cost in (("plain", plain), ("audited", audited))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=DEFAULT_URL, help="a server URL; a fresh database is created next to it")
    parser.add_argument("--writers", default="1,8,32")
    parser.add_argument("--changes", type=int, default=None, help="state changes per run (default 3000/8000/16000)")
    parser.add_argument("--processes", type=int, default=4, help="client processes the writer threads are spread over")
    parser.add_argument("--seal-seconds", type=float, default=1.0, help="sealer period (production default 5)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    writer_counts = [int(w) for w in args.writers.split(",")]

    import sqlalchemy as sa

    from governance.audit import service
    from governance.migrations_support import upgrade
    from tests.conftest import create_postgres_database, drop_postgres_database

    ctx = mp.get_context("spawn")
    url = create_postgres_database(args.postgres, prefix="bench_audit")
    try:
        with tempfile.TemporaryDirectory(prefix="audit-bench-") as instance:
            upgrade(url)
            app = _make_app(url, instance)  # creates the dev checkpoint key the other processes share
            engine = app.extensions["governance.db"].engine
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE bench_audit_rows (id integer PRIMARY KEY, counter bigint NOT NULL DEFAULT 0,"
                    " state varchar(16) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                )
                rows = max(writer_counts) * ROWS_PER_WRITER
                conn.execute(
                    sa.text(SEED_ROWS),
                    {"n": rows - 1},
                )
            server = engine.dialect.server_version_info
            results_q = ctx.Queue()
            commands = [ctx.Queue() for _ in range(args.processes)]
            workers = [
                ctx.Process(target=_writer_process, args=(url, instance, commands[p], results_q))
                for p in range(args.processes)
            ]
            for worker in workers:
                worker.start()
            figures = []
            total_audited = 0
            try:
                for _ in workers:
                    results_q.get(timeout=300)  # every writer process has its app
                for writers in writer_counts:
                    changes = args.changes or CHANGES.get(writers, 250 * writers)
                    if args.quick:
                        changes //= 10
                    server_before = _backend_cpu(engine)
                    done, began, ended, client_cpu = _run_phase(commands, results_q, writers, changes, audited=False)
                    server_cpu = _cpu_delta(server_before, _backend_cpu(engine))
                    plain = done / (ended - began)
                    plain_cpu = _per_change_ms(client_cpu, server_cpu, done)

                    stop, ready, sealer_q = ctx.Event(), ctx.Event(), ctx.Queue()
                    sealer = ctx.Process(
                        target=_sealer_process, args=(url, instance, args.seal_seconds, stop, ready, sealer_q)
                    )
                    sealer.start()
                    ready.wait(timeout=120)
                    server_before = _backend_cpu(engine)
                    done, began, ended, client_cpu = _run_phase(commands, results_q, writers, changes, audited=True)
                    stop.set()
                    seal_stats = sealer_q.get()
                    sealer.join()
                    server_cpu = _cpu_delta(server_before, _backend_cpu(engine))
                    audited_cpu = _per_change_ms(client_cpu + seal_stats["cpu_seconds"], server_cpu, done)
                    total_audited += done
                    audited = done / (ended - began)
                    figures.append(
                        {
                            "writers": writers,
                            "changes": done,
                            "plain_per_second": round(plain),
                            "audited_per_second": round(audited),
                            "ratio": round(audited / plain, 3),
                            "sealed_per_second": round(done / (seal_stats["drained_at"] - began)),
                            "seal_lag_after_last_write_seconds": round(seal_stats["drained_at"] - ended, 2),
                            "cpu_ms_per_change": {"plain": plain_cpu, "audited_incl_sealer": audited_cpu},
                            "cpu_bound_ceiling_per_second": _ceiling(plain_cpu, audited_cpu),
                            "sealer": {
                                "runs": seal_stats["runs"],
                                "largest_batch": seal_stats["largest_batch"],
                                "client_cpu_ms_per_entry": round(seal_stats["cpu_seconds"] / max(done, 1) * 1000, 3),
                                "entries_per_busy_second": round(
                                    seal_stats["sealed"] / max(seal_stats["busy_seconds"], 1e-9)
                                ),
                            },
                        }
                    )
            finally:
                for queue in commands:
                    queue.put(None)
                for worker in workers:
                    worker.join(timeout=60)

            with app.app_context():
                config = service.current_config()
            service.seal_all(app.extensions["governance.db"].session, config, force_checkpoint=True)
            with app.extensions["governance.db"].session() as session:
                report = service.verify(session, config)
                seqs = session.execute(sa.text("SELECT count(*), min(seq), max(seq) FROM audit_entries")).one()
            app.extensions["governance.db"].dispose()
    finally:
        drop_postgres_database(url)

    assert report.ok, report.message
    assert tuple(seqs) == (total_audited, 0, total_audited - 1), seqs
    print(json.dumps({
        "figure": "audit_throughput",
        "database": f"PostgreSQL {'.'.join(map(str, server or ()))}",
        "change": "UPDATE of one row of the writer's own, one transaction per change (+ audit.record when audited)",
        "client_processes": args.processes,
        "seal_seconds": args.seal_seconds,
        "results": figures,
        "log_verified": report.ok,
        "log_entries": report.entries,
        "target": "at least 2,000 audited changes/s with 32 writers",
        "cpus": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
